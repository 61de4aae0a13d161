package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// OfficialImage is the image used on machines with Docker when no local eoskit
// image exists: the Apache Kafka project's own.
func OfficialImage(version string) string { return "apache/kafka:" + version }

// LocalImage is the image `make kafka-image` builds from the fetched jars, with
// the official image's layout.
func LocalImage(version string) string { return "localhost/eoskit-kafka:" + version }

// Label marks every container eoskit creates, for cleanup of leftovers.
const Label = "org.eoskit.integration"

const containerDir = "/eoskit"

// containers runs each node in a container with host networking: brokers
// listen on 127.0.0.1 at distinct ports, so a restarted container keeps its
// address and clients on the host reach it directly.
type containers struct {
	engine engine
	image  string
	heap   string
	docker *testcontainers.DockerClient
	logf   func(format string, args ...any)

	// forceSignalPause makes pause skip the freezer (tests of the fallback).
	forceSignalPause bool

	mu         sync.Mutex
	ctrs       map[int32]*testcontainers.DockerContainer
	sigstopped map[int32]bool // nodes pause stopped with SIGSTOP
}

type tcLogger struct{ logf func(string, ...any) }

func (l tcLogger) Printf(format string, v ...any) { l.logf(format, v...) }

func newContainers(ctx context.Context, cfg *config) (*containers, error) {
	dc, eng, err := connectEngine(ctx)
	if err != nil {
		return nil, fmt.Errorf("integration: containers backend: %w", err)
	}
	image := cfg.image
	if image == "" {
		image = LocalImage(cfg.kafkaVersion)
		if !imageExists(ctx, dc, image) {
			image = OfficialImage(cfg.kafkaVersion)
		}
	}
	logger := cfg.logger
	return &containers{
		engine: eng,
		image:  image,
		heap:   cfg.heap,
		docker: dc,
		logf:   func(f string, a ...any) { logger.Debug(strings.TrimSpace(fmt.Sprintf(f, a...))) },
		ctrs:   map[int32]*testcontainers.DockerContainer{},

		sigstopped: map[int32]bool{},
	}, nil
}

func imageExists(ctx context.Context, dc *testcontainers.DockerClient, image string) bool {
	_, err := dc.ImageInspect(ctx, image)
	return err == nil
}

func (c *containers) kind() Backend       { return BackendContainers }
func (c *containers) logDir(*node) string { return "/tmp/eoskit-kafka-data" }

func (c *containers) filesDir(*node) string { return containerDir }

func (c *containers) create(ctx context.Context, n *node, files map[string][]byte) error {
	// The files go through the host folder, not readers: testcontainers
	// consumes a reader once, and a retried copy would write empty files.
	if err := os.MkdirAll(n.hostDir, 0o755); err != nil {
		return err
	}
	var cf []testcontainers.ContainerFile
	for name, data := range files {
		path := filepath.Join(n.hostDir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		cf = append(cf, testcontainers.ContainerFile{
			HostFilePath:      path,
			ContainerFilePath: containerDir + "/" + name,
			FileMode:          0o755,
		})
	}
	env := map[string]string{"KAFKA_HOME": "/opt/kafka"}
	if c.heap != "" {
		env["EOSKIT_BROKER_HEAP"] = c.heap
	}
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:      c.image,
			Entrypoint: []string{"sh", containerDir + "/start.sh", containerDir},
			Env:        env,
			Files:      cf,
			Labels:     map[string]string{Label: "true", Label + ".node": fmt.Sprint(n.id)},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = "host"
				init := true
				hc.Init = &init
			},
		},
		Started: true,
		Logger:  tcLogger{c.logf},
	}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	if ctr != nil {
		if dc, ok := ctr.(*testcontainers.DockerContainer); ok {
			c.mu.Lock()
			c.ctrs[n.id] = dc
			c.mu.Unlock()
		}
	}
	if err != nil {
		return fmt.Errorf("container from image %s (build it with `make kafka-image`, or set %s): %w", c.image, EnvImage, err)
	}
	return nil
}

func (c *containers) ctr(n *node) (*testcontainers.DockerContainer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctr := c.ctrs[n.id]
	if ctr == nil {
		return nil, errors.New("node has no container")
	}
	return ctr, nil
}

func (c *containers) start(ctx context.Context, n *node) error {
	ctr, err := c.ctr(n)
	if err != nil {
		return err
	}
	return ctr.Start(ctx)
}

func (c *containers) stop(ctx context.Context, n *node) error {
	ctr, err := c.ctr(n)
	if err != nil {
		return err
	}
	if err := c.unfreeze(ctx, n.id, ctr); err != nil {
		return err
	}
	timeout := 30 * time.Second
	return ctr.Stop(ctx, &timeout)
}

func (c *containers) kill(ctx context.Context, n *node) error {
	ctr, err := c.ctr(n)
	if err != nil {
		return err
	}
	if _, err := c.docker.ContainerKill(ctx, ctr.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return err
	}
	c.takeSigstopped(n.id) // SIGKILL ends a SIGSTOPped broker too
	// Wait until the engine reports it stopped, so a following Start works.
	for {
		st, err := ctr.State(ctx)
		if err != nil {
			return err
		}
		if !st.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freezeTries is how often pause asks the engine's freezer before it stops
// the broker's processes with SIGSTOP instead.
const freezeTries = 3

// pause freezes the node's container with the engine's freezer. The freezer
// can fail on a busy JVM (runc 1.1 on cgroup v1 gives up with "unable to
// freeze" when threads stay in uninterruptible sleep; seen once in CI under
// the network-fault suite): pause asks again, and after freezeTries failures
// stops every process of the container but its init with SIGSTOP, which
// freezes the broker as surely. resume undoes whichever was used.
func (c *containers) pause(ctx context.Context, n *node) error {
	ctr, err := c.ctr(n)
	if err != nil {
		return err
	}
	var errs []error
	for try := 0; try < freezeTries && !c.forceSignalPause; try++ {
		_, err := c.docker.ContainerPause(ctx, ctr.GetContainerID(), client.ContainerPauseOptions{})
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		c.logf("pause node %d: freezer try %d of %d: %v", n.id, try+1, freezeTries, err)
		if st, serr := ctr.State(ctx); serr == nil && st.Paused {
			return nil // frozen after all
		}
		select {
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		case <-time.After(time.Duration(try+1) * 300 * time.Millisecond):
		}
	}
	if err := c.signalAll(ctx, ctr, "STOP"); err != nil {
		return errors.Join(append(errs, fmt.Errorf("SIGSTOP fallback: %w", err))...)
	}
	c.mu.Lock()
	c.sigstopped[n.id] = true
	c.mu.Unlock()
	return nil
}

func (c *containers) resume(ctx context.Context, n *node) error {
	ctr, err := c.ctr(n)
	if err != nil {
		return err
	}
	if c.takeSigstopped(n.id) {
		return c.signalAll(ctx, ctr, "CONT")
	}
	_, err = c.docker.ContainerUnpause(ctx, ctr.GetContainerID(), client.ContainerUnpauseOptions{})
	return err
}

// takeSigstopped reports whether pause stopped node id with SIGSTOP, and
// forgets it.
func (c *containers) takeSigstopped(id int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	stopped := c.sigstopped[id]
	delete(c.sigstopped, id)
	return stopped
}

// signalAll sends sig to every process in the container but its init and
// the shell that sends it (kill -1 from inside the container's PID
// namespace): the broker's JVM. The engine's own kill would reach only the
// init, which cannot pass SIGSTOP on.
func (c *containers) signalAll(ctx context.Context, ctr *testcontainers.DockerContainer, sig string) error {
	code, out, err := ctr.Exec(ctx, []string{"sh", "-c", "kill -" + sig + " -1"})
	if err != nil {
		return err
	}
	if code != 0 {
		msg, _ := io.ReadAll(out)
		return fmt.Errorf("kill -%s -1 in the container exited %d: %s", sig, code, bytes.TrimSpace(msg))
	}
	return nil
}

// unfreeze thaws a node before it is stopped or removed: a frozen or
// SIGSTOPped JVM cannot handle SIGTERM.
func (c *containers) unfreeze(ctx context.Context, n int32, ctr *testcontainers.DockerContainer) error {
	if c.takeSigstopped(n) {
		return c.signalAll(ctx, ctr, "CONT")
	}
	if st, err := ctr.State(ctx); err == nil && st.Paused {
		_, err := c.docker.ContainerUnpause(ctx, ctr.GetContainerID(), client.ContainerUnpauseOptions{})
		return err
	}
	return nil
}

func (c *containers) exited(ctx context.Context, n *node) (bool, error) {
	ctr, err := c.ctr(n)
	if err != nil {
		return false, err
	}
	st, err := ctr.State(ctx)
	if err != nil {
		return false, err
	}
	return !st.Running, nil
}

func (c *containers) logs(ctx context.Context, n *node) ([]byte, error) {
	ctr, err := c.ctr(n)
	if err != nil {
		return nil, err
	}
	rc, err := c.docker.ContainerLogs(ctx, ctr.GetContainerID(), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Without a TTY the engine multiplexes stdout and stderr; both go to one buffer.
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return buf.Bytes(), err
	}
	return buf.Bytes(), nil
}

func (c *containers) close(ctx context.Context) error {
	c.mu.Lock()
	ctrs := c.ctrs
	c.ctrs = map[int32]*testcontainers.DockerContainer{}
	c.mu.Unlock()
	var errs []error
	for id, ctr := range ctrs {
		_ = c.unfreeze(ctx, id, ctr)
		if err := ctr.Terminate(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.docker.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
