package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// The container engine is found the way testcontainers users expect, then
// extended to podman: $DOCKER_HOST if set; else Docker's socket; else rootless
// Docker's sockets (the paths testcontainers-go itself tries); else podman's
// rootful socket (/run/podman/podman.sock); else podman's rootless socket
// ($XDG_RUNTIME_DIR/podman/podman.sock). The first that answers is used.
//
// testcontainers-go v0.45.0 reads its settings from the environment (and
// ~/.testcontainers.properties) once per process, at its first call. So before
// that call the package sets, in its own process and only where the caller
// left them unset: DOCKER_HOST to the engine found; and, when the engine is
// podman, TESTCONTAINERS_PROVIDER=podman, TESTCONTAINERS_RYUK_DISABLED=true
// (podman's API runs no reaper that testcontainers can reach; eoskit removes
// its own containers) and, on a local socket, TESTCONTAINERS_HOST_OVERRIDE=
// 127.0.0.1 (published ports are on this host, even where a /.dockerenv file
// makes testcontainers believe it runs in a container).

// Names of the environment variables the engine detection reads or sets.
const (
	envDockerHost    = "DOCKER_HOST"
	envTCProvider    = "TESTCONTAINERS_PROVIDER"
	envTCRyuk        = "TESTCONTAINERS_RYUK_DISABLED"
	envTCHost        = "TESTCONTAINERS_HOST_OVERRIDE"
	envXDGRuntimeDir = "XDG_RUNTIME_DIR"
)

// Well-known engine sockets.
const (
	dockerSocket        = "/var/run/docker.sock"
	podmanRootfulSocket = "/run/podman/podman.sock"
)

// engine is the container engine the containers backend talks to.
type engine struct {
	host   string   // in DOCKER_HOST form: unix:///path or tcp://host:port
	where  string   // how it was found, e.g. "podman's rootful socket"
	podman bool     // the API is served by podman
	set    []string // KEY=VALUE settings this process applied for testcontainers
}

func (e engine) String() string {
	kind := "Docker"
	if e.podman {
		kind = "podman"
	}
	s := fmt.Sprintf("%s at %s (%s", kind, e.host, e.where)
	if len(e.set) > 0 {
		s += "; set for testcontainers: " + strings.Join(e.set, " ")
	}
	return s + ")"
}

// engineCandidate is a place an engine may answer.
type engineCandidate struct {
	host  string
	where string
}

// errNoSocket is what a probe returns for a unix socket that does not exist.
var errNoSocket = errors.New("no such socket")

// engineProbe asks host whether an engine answers and whether it is podman.
// It returns errNoSocket (wrapped or not) when a unix socket does not exist.
type engineProbe func(ctx context.Context, host string) (podman bool, err error)

// engineCandidates lists, in order, where an engine is looked for. getenv reads
// the environment; home and uid are the user's home folder and user ID.
func engineCandidates(getenv func(string) string, home string, uid int) []engineCandidate {
	if h := getenv(envDockerHost); h != "" {
		return []engineCandidate{{h, "$" + envDockerHost}}
	}
	unix := func(path, where string) engineCandidate { return engineCandidate{"unix://" + path, where} }
	runUser := filepath.Join("/run/user", strconv.Itoa(uid))
	xdg := getenv(envXDGRuntimeDir)
	cs := []engineCandidate{unix(dockerSocket, "Docker's socket")}
	if xdg != "" {
		cs = append(cs, unix(filepath.Join(xdg, "docker.sock"), "rootless Docker's socket in $"+envXDGRuntimeDir))
	}
	if home != "" {
		cs = append(cs,
			unix(filepath.Join(home, ".docker/run/docker.sock"), "rootless Docker's socket in ~/.docker/run"),
			unix(filepath.Join(home, ".docker/desktop/docker.sock"), "Docker Desktop's socket"))
	}
	if uid != 0 {
		cs = append(cs, unix(filepath.Join(runUser, "docker.sock"), "rootless Docker's socket in "+runUser))
	}
	cs = append(cs, unix(podmanRootfulSocket, "podman's rootful socket"))
	switch {
	case xdg != "":
		cs = append(cs, unix(filepath.Join(xdg, "podman/podman.sock"), "podman's rootless socket in $"+envXDGRuntimeDir))
	case uid != 0:
		cs = append(cs, unix(filepath.Join(runUser, "podman/podman.sock"), "podman's rootless socket in "+runUser))
	}
	return cs
}

// findEngine returns the first candidate that answers. $DOCKER_HOST, when set,
// is the only candidate: an explicit choice that does not answer is an error,
// not a reason to use another engine. The error wraps ErrBackendUnavailable
// and says what was tried.
func findEngine(ctx context.Context, cands []engineCandidate, probe engineProbe) (engine, error) {
	var tried []string
	for _, c := range cands {
		podman, err := probe(ctx, c.host)
		if err == nil {
			return engine{host: c.host, where: c.where, podman: podman}, nil
		}
		if c.where == "$"+envDockerHost {
			return engine{}, fmt.Errorf("%s=%s does not answer (%v): start that engine, or unset %s to look for one: %w",
				envDockerHost, c.host, err, envDockerHost, ErrBackendUnavailable)
		}
		if errors.Is(err, errNoSocket) {
			tried = append(tried, strings.TrimPrefix(c.host, "unix://")+": none")
		} else {
			tried = append(tried, fmt.Sprintf("%s: %v", strings.TrimPrefix(c.host, "unix://"), err))
		}
	}
	return engine{}, fmt.Errorf("no container engine answers ($%s unset; %s): install and start Docker or podman's API service (Debian, as root: `make podman`), or set %s: %w",
		envDockerHost, strings.Join(tried, "; "), envDockerHost, ErrBackendUnavailable)
}

// engineSettings returns the KEY=VALUE settings testcontainers needs for e
// that the environment (lookup) does not already hold. A setting the caller
// made, even to another value, is kept.
func engineSettings(e engine, lookup func(string) (string, bool)) []string {
	var set []string
	add := func(k, v string) {
		if _, ok := lookup(k); !ok {
			set = append(set, k+"="+v)
		}
	}
	add(envDockerHost, e.host)
	if e.podman {
		add(envTCProvider, "podman")
		add(envTCRyuk, "true")
		if strings.HasPrefix(e.host, "unix://") {
			add(envTCHost, "127.0.0.1")
		}
	}
	return set
}

// probeEngine asks the Docker API at host for its version: podman names its
// "Podman Engine" component there.
func probeEngine(ctx context.Context, host string) (bool, error) {
	if path, ok := strings.CutPrefix(host, "unix://"); ok {
		fi, err := os.Stat(path)
		if err != nil {
			return false, errNoSocket
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return false, fmt.Errorf("%s is not a socket", path)
		}
	}
	cl, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := cl.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return false, err
	}
	for _, c := range v.Components {
		if strings.Contains(strings.ToLower(c.Name), "podman") {
			return true, nil
		}
	}
	return strings.Contains(strings.ToLower(v.Platform.Name), "podman"), nil
}

// processEngine finds the engine once per process and applies its settings to
// the process environment before testcontainers first reads it. Every
// testcontainers call in this package must come after useEngine.
var processEngine = sync.OnceValues(func() (engine, error) {
	home, _ := os.UserHomeDir()
	cands := engineCandidates(os.Getenv, home, os.Getuid())
	e, err := findEngine(context.Background(), cands, probeEngine)
	if err != nil {
		return engine{}, err
	}
	e.set = engineSettings(e, os.LookupEnv)
	for _, kv := range e.set {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return engine{}, fmt.Errorf("set %s for testcontainers: %w", k, err)
		}
	}
	return e, nil
})

// useEngine returns the container engine of this process (see processEngine).
func useEngine() (engine, error) { return processEngine() }

// connectEngine finds the engine (useEngine), then returns a testcontainers
// client to it that answered a ping. Errors wrap ErrBackendUnavailable.
func connectEngine(ctx context.Context) (*testcontainers.DockerClient, engine, error) {
	eng, err := useEngine()
	if err != nil {
		return nil, engine{}, err
	}
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, eng, fmt.Errorf("connect to the container engine, %s: %v: %w", eng, err, ErrBackendUnavailable)
	}
	if _, err := dc.Ping(ctx, client.PingOptions{}); err != nil {
		_ = dc.Close()
		return nil, eng, fmt.Errorf("container engine, %s, does not answer: %v: %w", eng, err, ErrBackendUnavailable)
	}
	return dc, eng, nil
}
