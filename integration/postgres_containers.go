package integration

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// pgContainers runs the server in one container with host networking, so a
// restarted container keeps its address. The data folder lives in the
// container: Kill and Stop keep it, Close removes it.
type pgContainers struct {
	cfg    *pgConfig
	port   int
	engine engine
	image  string
	docker *testcontainers.DockerClient
	ctr    *testcontainers.DockerContainer
}

func newPgContainers(ctx context.Context, cfg *pgConfig, port int) (*pgContainers, error) {
	dc, eng, err := connectEngine(ctx)
	if err != nil {
		return nil, fmt.Errorf("integration: containers backend: %w", err)
	}
	image := cfg.image
	if image == "" {
		image = LocalPostgresImage()
		if !imageExists(ctx, dc, image) {
			image = OfficialPostgresImage()
		}
	}
	return &pgContainers{cfg: cfg, port: port, engine: eng, image: image, docker: dc}, nil
}

func (c *pgContainers) kind() Backend { return BackendContainers }

func (c *pgContainers) create(ctx context.Context) error {
	logger := c.cfg.logger
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image: c.image,
			Cmd:   append([]string{"postgres"}, c.cfg.serverSettings(c.port)...),
			// The official image's entrypoint reads these; eoskit's local image
			// initialises with trust authentication anyway.
			Env:    map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust", "LC_ALL": "C", "TZ": "UTC"},
			Labels: map[string]string{Label: "true", Label + ".postgres": fmt.Sprint(c.port)},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = "host"
				init := true
				hc.Init = &init
			},
		},
		Started: true,
		Logger:  tcLogger{func(f string, a ...any) { logger.Debug(strings.TrimSpace(fmt.Sprintf(f, a...))) }},
	}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	if dc, ok := ctr.(*testcontainers.DockerContainer); ok && dc != nil {
		c.ctr = dc
	}
	if err != nil {
		return fmt.Errorf("container from image %s (build it with `make postgres-image`, or set %s): %w", c.image, EnvPostgresImage, err)
	}
	return nil
}

func (c *pgContainers) start(ctx context.Context) error {
	if c.ctr == nil {
		return fmt.Errorf("postgres has no container")
	}
	// Right after a kill, podman can refuse a start ("write child: broken
	// pipe") while it is still cleaning the old process up: try again.
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		if err = c.ctr.Start(ctx); err == nil {
			return nil
		}
		c.cfg.logger.Warn("postgres container start failed; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
	return err
}

// signal sends sig to the server and waits until the container stopped.
func (c *pgContainers) signal(ctx context.Context, sig string, wait time.Duration) error {
	if c.ctr == nil {
		return fmt.Errorf("postgres has no container")
	}
	if _, err := c.docker.ContainerKill(ctx, c.ctr.GetContainerID(), client.ContainerKillOptions{Signal: sig}); err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := c.ctr.State(ctx)
		if err != nil {
			return err
		}
		if !st.Running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still running %v after SIGNAL %s", wait, sig)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *pgContainers) stop(ctx context.Context) error {
	if c.exited(ctx) {
		return nil
	}
	// With an init process, the signal goes to the init, which passes it on
	// to postgres: SIGINT is PostgreSQL's fast shutdown.
	if err := c.signal(ctx, "INT", 30*time.Second); err != nil {
		return c.signal(ctx, "KILL", 30*time.Second)
	}
	return nil
}

func (c *pgContainers) kill(ctx context.Context) error { return c.signal(ctx, "KILL", 30*time.Second) }

func (c *pgContainers) exited(ctx context.Context) bool {
	if c.ctr == nil {
		return true
	}
	st, err := c.ctr.State(ctx)
	return err != nil || !st.Running
}

func (c *pgContainers) logs(ctx context.Context) ([]byte, error) {
	if c.ctr == nil {
		return nil, fmt.Errorf("postgres has no container")
	}
	rc, err := c.docker.ContainerLogs(ctx, c.ctr.GetContainerID(), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, err = stdcopy.StdCopy(&buf, &buf, rc)
	return buf.Bytes(), err
}

func (c *pgContainers) close(ctx context.Context) error {
	var err error
	if c.ctr != nil {
		err = c.ctr.Terminate(ctx)
	}
	if cerr := c.docker.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
