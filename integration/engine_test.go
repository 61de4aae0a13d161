package integration

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeEngines answers probes from a table: host -> "docker", "podman",
// "down" (a socket that does not answer); hosts not listed have no socket.
func fakeEngines(m map[string]string) engineProbe {
	return func(_ context.Context, host string) (bool, error) {
		switch m[host] {
		case "docker":
			return false, nil
		case "podman":
			return true, nil
		case "down":
			return false, errors.New("connection refused")
		}
		return false, errNoSocket
	}
}

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func lookupOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

const (
	testXDG      = "/run/user/1000"
	rootfulHost  = "unix://" + podmanRootfulSocket
	rootlessHost = "unix://" + testXDG + "/podman/podman.sock"
	dockerHost   = "unix://" + dockerSocket
	customHost   = "tcp://127.0.0.1:2375"
)

func TestFindEngineOrder(t *testing.T) {
	all := map[string]string{customHost: "docker", dockerHost: "docker", rootfulHost: "podman", rootlessHost: "podman"}
	without := func(hosts ...string) map[string]string {
		m := map[string]string{}
		for k, v := range all {
			if !slices.Contains(hosts, k) {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name       string
		env        map[string]string
		engines    map[string]string
		wantHost   string
		wantWhere  string
		wantPodman bool
	}{
		{"DOCKER_HOST first", map[string]string{envDockerHost: customHost, envXDGRuntimeDir: testXDG}, all, customHost, "$DOCKER_HOST", false},
		{"then Docker's socket", map[string]string{envXDGRuntimeDir: testXDG}, all, dockerHost, "Docker's socket", false},
		{"then podman rootful", map[string]string{envXDGRuntimeDir: testXDG}, without(dockerHost), rootfulHost, "podman's rootful socket", true},
		{"then podman rootless", map[string]string{envXDGRuntimeDir: testXDG}, without(dockerHost, rootfulHost), rootlessHost, "podman's rootless socket in $XDG_RUNTIME_DIR", true},
		{"a Docker socket that does not answer is passed over", map[string]string{envXDGRuntimeDir: testXDG},
			map[string]string{dockerHost: "down", rootfulHost: "podman"}, rootfulHost, "podman's rootful socket", true},
		{"podman behind Docker's socket is podman", nil, map[string]string{dockerHost: "podman"}, dockerHost, "Docker's socket", true},
		{"rootless Docker before podman", map[string]string{envXDGRuntimeDir: testXDG},
			map[string]string{"unix://" + testXDG + "/docker.sock": "docker", rootfulHost: "podman"},
			"unix://" + testXDG + "/docker.sock", "rootless Docker's socket in $XDG_RUNTIME_DIR", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands := engineCandidates(envOf(tt.env), "/home/u", 1000)
			e, err := findEngine(context.Background(), cands, fakeEngines(tt.engines))
			if err != nil {
				t.Fatalf("findEngine: %v", err)
			}
			if e.host != tt.wantHost || e.where != tt.wantWhere || e.podman != tt.wantPodman {
				t.Fatalf("got %s at %s (podman %v), want %s at %s (podman %v)", e.where, e.host, e.podman, tt.wantWhere, tt.wantHost, tt.wantPodman)
			}
		})
	}
}

func TestEngineCandidatesRootWithoutXDG(t *testing.T) {
	cands := engineCandidates(envOf(nil), "/root", 0)
	var hosts []string
	for _, c := range cands {
		hosts = append(hosts, c.host)
	}
	want := []string{dockerHost, "unix:///root/.docker/run/docker.sock", "unix:///root/.docker/desktop/docker.sock", rootfulHost}
	if !slices.Equal(hosts, want) {
		t.Fatalf("candidates for root without $XDG_RUNTIME_DIR:\n got %q\nwant %q", hosts, want)
	}
	cands = engineCandidates(envOf(nil), "", 1000)
	if last := cands[len(cands)-1].host; last != "unix:///run/user/1000/podman/podman.sock" {
		t.Fatalf("rootless podman socket without $XDG_RUNTIME_DIR = %q, want unix:///run/user/1000/podman/podman.sock", last)
	}
}

func TestFindEngineDockerHostDoesNotAnswer(t *testing.T) {
	cands := engineCandidates(envOf(map[string]string{envDockerHost: customHost}), "/root", 0)
	_, err := findEngine(context.Background(), cands, fakeEngines(map[string]string{customHost: "down", rootfulHost: "podman"}))
	if !errors.Is(err, ErrBackendUnavailable) {
		t.Fatalf("err = %v, want ErrBackendUnavailable", err)
	}
	for _, want := range []string{"DOCKER_HOST=" + customHost + " does not answer", "connection refused", "unset DOCKER_HOST"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestFindEngineNone(t *testing.T) {
	cands := engineCandidates(envOf(nil), "/root", 0)
	_, err := findEngine(context.Background(), cands, fakeEngines(map[string]string{rootfulHost: "down"}))
	if !errors.Is(err, ErrBackendUnavailable) {
		t.Fatalf("err = %v, want ErrBackendUnavailable", err)
	}
	for _, want := range []string{"no container engine answers", dockerSocket + ": none", podmanRootfulSocket + ": connection refused", "make podman"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestEngineSettings(t *testing.T) {
	tests := []struct {
		name string
		e    engine
		env  map[string]string
		want []string
	}{
		{"podman: Ryuk off, host override, provider, DOCKER_HOST",
			engine{host: rootfulHost, podman: true}, nil,
			[]string{"DOCKER_HOST=" + rootfulHost, "TESTCONTAINERS_PROVIDER=podman", "TESTCONTAINERS_RYUK_DISABLED=true", "TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1"}},
		{"podman from DOCKER_HOST: the caller's settings are kept",
			engine{host: rootfulHost, podman: true}, map[string]string{envDockerHost: rootfulHost, envTCRyuk: "false"},
			[]string{"TESTCONTAINERS_PROVIDER=podman", "TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1"}},
		{"remote podman: no host override",
			engine{host: customHost, podman: true}, map[string]string{envDockerHost: customHost},
			[]string{"TESTCONTAINERS_PROVIDER=podman", "TESTCONTAINERS_RYUK_DISABLED=true"}},
		{"Docker: only DOCKER_HOST",
			engine{host: dockerHost}, nil, []string{"DOCKER_HOST=" + dockerHost}},
		{"Docker from DOCKER_HOST: nothing",
			engine{host: customHost}, map[string]string{envDockerHost: customHost}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := engineSettings(tt.e, lookupOf(tt.env))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("engineSettings:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestProbeEngine runs probeEngine against a fake Docker API on a unix socket.
func TestProbeEngine(t *testing.T) {
	serve := func(t *testing.T, version string) string {
		dir, err := os.MkdirTemp("", "eoskit-engine-") // short: unix socket paths are limited to 108 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		sock := filepath.Join(dir, "api.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Api-Version", "1.41")
			w.Header().Set("Content-Type", "application/json")
			if strings.HasSuffix(r.URL.Path, "/version") {
				_, _ = w.Write([]byte(version))
				return
			}
			_, _ = w.Write([]byte("OK"))
		})}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return "unix://" + sock
	}
	podmanHost := serve(t, `{"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine","Version":"4.3.1"}],"Version":"4.3.1","ApiVersion":"1.41"}`)
	dockerHost := serve(t, `{"Platform":{"Name":"Docker Engine - Community"},"Components":[{"Name":"Engine","Version":"27.0.0"}],"Version":"27.0.0","ApiVersion":"1.46"}`)
	ctx := context.Background()
	if podman, err := probeEngine(ctx, podmanHost); err != nil || !podman {
		t.Fatalf("probeEngine(podman) = %v, %v; want true, nil", podman, err)
	}
	if podman, err := probeEngine(ctx, dockerHost); err != nil || podman {
		t.Fatalf("probeEngine(docker) = %v, %v; want false, nil", podman, err)
	}
	if _, err := probeEngine(ctx, "unix://"+filepath.Join(t.TempDir(), "absent.sock")); !errors.Is(err, errNoSocket) {
		t.Fatalf("probeEngine(absent socket) err = %v, want errNoSocket", err)
	}
	notSock := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notSock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := probeEngine(ctx, "unix://"+notSock); err == nil || errors.Is(err, errNoSocket) {
		t.Fatalf("probeEngine(regular file) err = %v, want 'not a socket'", err)
	}
}
