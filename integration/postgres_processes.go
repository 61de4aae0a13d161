package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// pgProcesses runs initdb and postgres from local binaries. As root it runs
// them as the user postgres (else nobody): initdb refuses to run as root.
type pgProcesses struct {
	cfg     *pgConfig
	port    int
	binDir  string
	workDir string
	uid     int // -1: run as the current user
	gid     int

	mu   sync.Mutex
	proc *proc
}

// findPgBinDir returns the folder with initdb and postgres: dir when set,
// else the PATH, else `pg_config --bindir`, else /usr/lib/postgresql/*/bin
// (newest first).
func findPgBinDir(dir string) (string, error) {
	ok := func(d string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if ok(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("integration: processes backend: no initdb and postgres in %s (%s): %w", dir, EnvPostgresBinDir, ErrBackendUnavailable)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && ok(filepath.Dir(real)) {
			return filepath.Dir(real), nil // Debian's share files are found next to the real binaries
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); ok(d) {
			return d, nil
		}
	}
	cands, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(cands) - 1; i >= 0; i-- {
		if ok(cands[i]) {
			return cands[i], nil
		}
	}
	return "", fmt.Errorf("integration: processes backend: PostgreSQL binaries not found on PATH, via pg_config or in /usr/lib/postgresql/*/bin: run `make postgres` or set %s: %w", EnvPostgresBinDir, ErrBackendUnavailable)
}

func newPgProcesses(cfg *pgConfig, port int) (*pgProcesses, error) {
	bin, err := findPgBinDir(cfg.binDir)
	if err != nil {
		return nil, err
	}
	p := &pgProcesses{cfg: cfg, port: port, binDir: bin, uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			u, err := user.Lookup(name)
			if err != nil {
				continue
			}
			p.uid, _ = strconv.Atoi(u.Uid)
			p.gid, _ = strconv.Atoi(u.Gid)
			break
		}
		if p.uid < 0 {
			return nil, fmt.Errorf("integration: processes backend: running as root and no user postgres or nobody to run initdb as: %w", ErrBackendUnavailable)
		}
	}
	return p, nil
}

func (p *pgProcesses) kind() Backend { return BackendProcesses }

func (p *pgProcesses) dataDir() string { return filepath.Join(p.workDir, "data") }
func (p *pgProcesses) logFile() string { return filepath.Join(p.workDir, "postgres.log") }

// chown gives path to the server's user (when running as root).
func (p *pgProcesses) chown(path string) error {
	if p.uid < 0 {
		return nil
	}
	return os.Chown(path, p.uid, p.gid)
}

func (p *pgProcesses) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.binDir, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.Dir = p.workDir
	cmd.SysProcAttr = sysProcAttr()
	if p.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}
	}
	return cmd
}

func (p *pgProcesses) create(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "eoskit-postgres-")
	if err != nil {
		return fmt.Errorf("create work folder: %w", err)
	}
	p.workDir = dir
	// The server's user must reach its folders inside the temp folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{p.dataDir(), filepath.Join(dir, "sock")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
		if err := p.chown(d); err != nil {
			return fmt.Errorf("give %s to the postgres user: %w", d, err)
		}
	}
	cmd := p.command("initdb", "-D", p.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return p.start(ctx)
}

func (p *pgProcesses) start(_ context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc.alive() {
		return errors.New("postgres is already running")
	}
	args := append([]string{"-D", p.dataDir(), "-k", filepath.Join(p.workDir, "sock")}, p.cfg.serverSettings(p.port)...)
	pr, err := startLogged(p.command("postgres", args...), p.logFile(), "postgres")
	if err != nil {
		return err
	}
	p.proc = pr
	return nil
}

func (p *pgProcesses) running() *proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.proc.alive() {
		return nil
	}
	return p.proc
}

func (p *pgProcesses) stop(ctx context.Context) error {
	pr := p.running()
	if pr == nil {
		return nil
	}
	_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGCONT)
	_ = syscall.Kill(pr.cmd.Process.Pid, syscall.SIGINT) // fast shutdown
	return pr.awaitOrKill(ctx)
}

func (p *pgProcesses) kill(_ context.Context) error {
	pr := p.running()
	if pr == nil {
		return errors.New("postgres is not running")
	}
	// The postmaster and every backend, as a crash of the server's machine
	// would leave no child behind either. Each child calls setsid, so the
	// postmaster's process group alone would leave the backends running,
	// able to commit the transactions they hold until they notice.
	if err := pr.killAll(); err != nil {
		return fmt.Errorf("kill postgres: %w", err)
	}
	return nil
}

func (p *pgProcesses) exited(context.Context) bool { return p.running() == nil }

func (p *pgProcesses) logs(context.Context) ([]byte, error) { return os.ReadFile(p.logFile()) }

func (p *pgProcesses) close(ctx context.Context) error {
	err := p.stop(ctx)
	if p.workDir != "" {
		if rerr := os.RemoveAll(p.workDir); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}
