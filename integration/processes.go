package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// processes runs each node as a JVM on this machine, from the jars in kafkaHome.
type processes struct {
	kafkaHome string
	heap      string

	mu    sync.Mutex
	procs map[int32]*proc
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// startLogged starts cmd with its output appended to the file logPath,
// after a line saying that what starts now; the proc's done closes once
// it has exited (and the log file is closed).
func startLogged(cmd *exec.Cmd, logPath, what string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "===== eoskit: starting %s at %s =====\n", what, time.Now().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(pr.done)
	}()
	return pr, nil
}

// awaitOrKill waits up to 30 s (or until ctx is done) for pr, asked to
// stop, to exit, then kills it with everything it started (killAll); it
// returns ctx's error.
func (pr *proc) awaitOrKill(ctx context.Context) error {
	select {
	case <-pr.done:
		return nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = pr.killAll()
	return ctx.Err()
}

// killAll kills pr, its process group and every process it started, also
// those that left the group (killTree), and returns once pr has exited
// (or with an error after 30 s).
func (pr *proc) killAll() error {
	err := killTree(pr.cmd.Process)
	if err != nil {
		_ = pr.cmd.Process.Kill() // whatever failed, not left running or stopped
	}
	select {
	case <-pr.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.Join(err, fmt.Errorf("process %d still runs 30 s after SIGKILL", pr.cmd.Process.Pid))
	}
}

// alive tells whether pr (nil: none) is still running.
func (pr *proc) alive() bool {
	if pr == nil {
		return false
	}
	select {
	case <-pr.done:
		return false
	default:
		return true
	}
}

func newProcesses(cfg *config) (*processes, error) {
	if err := checkProcesses(cfg.kafkaHome); err != nil {
		return nil, err
	}
	return &processes{kafkaHome: cfg.kafkaHome, heap: cfg.heap, procs: map[int32]*proc{}}, nil
}

// checkProcesses reports why the processes backend cannot run, or nil.
func checkProcesses(kafkaHome string) error {
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("integration: processes backend needs java 17+ on the PATH: %w", ErrBackendUnavailable)
	}
	matches, _ := filepath.Glob(filepath.Join(kafkaHome, "libs", "kafka_2.13-*.jar"))
	if len(matches) == 0 {
		return fmt.Errorf("integration: no Kafka jars in %s/libs: run `make kafka` (or set %s): %w",
			kafkaHome, EnvKafkaHome, ErrBackendUnavailable)
	}
	return nil
}

func (p *processes) kind() Backend           { return BackendProcesses }
func (p *processes) logDir(n *node) string   { return filepath.Join(n.hostDir, "data") }
func (p *processes) filesDir(n *node) string { return n.hostDir }
func (p *processes) logFile(n *node) string  { return filepath.Join(n.hostDir, "server.log") }

func (p *processes) create(ctx context.Context, n *node, files map[string][]byte) error {
	if err := os.MkdirAll(p.logDir(n), 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(n.hostDir, name), data, 0o644); err != nil {
			return err
		}
	}
	return p.start(ctx, n)
}

func (p *processes) start(_ context.Context, n *node) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.procs[n.id].alive() {
		return errors.New("node is already running")
	}
	cmd := exec.Command("sh", filepath.Join(n.hostDir, "start.sh"), n.hostDir)
	cmd.Env = append(os.Environ(), "KAFKA_HOME="+p.kafkaHome)
	if p.heap != "" {
		cmd.Env = append(cmd.Env, "EOSKIT_BROKER_HEAP="+p.heap)
	}
	cmd.SysProcAttr = sysProcAttr()
	pr, err := startLogged(cmd, p.logFile(n), fmt.Sprintf("node %d", n.id))
	if err != nil {
		return err
	}
	p.procs[n.id] = pr
	return nil
}

func (p *processes) running(n *node) (*proc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.procs[n.id]
	if !pr.alive() {
		return nil, errors.New("node is not running")
	}
	return pr, nil
}

// signal sends sig to the node's process group (the start script and the JVM).
func (p *processes) signal(n *node, sig syscall.Signal) (*proc, error) {
	pr, err := p.running(n)
	if err != nil {
		return nil, err
	}
	if err := syscall.Kill(-pr.cmd.Process.Pid, sig); err != nil {
		return nil, fmt.Errorf("signal %v: %w", sig, err)
	}
	return pr, nil
}

func (p *processes) stop(ctx context.Context, n *node) error {
	pr, err := p.signal(n, syscall.SIGCONT) // a paused JVM cannot handle SIGTERM
	if err != nil {
		return err
	}
	_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
	return pr.awaitOrKill(ctx)
}

func (p *processes) kill(_ context.Context, n *node) error {
	pr, err := p.signal(n, syscall.SIGKILL)
	if err != nil {
		return err
	}
	<-pr.done
	return nil
}

func (p *processes) pause(_ context.Context, n *node) error {
	_, err := p.signal(n, syscall.SIGSTOP)
	return err
}

func (p *processes) resume(_ context.Context, n *node) error {
	_, err := p.signal(n, syscall.SIGCONT)
	return err
}

func (p *processes) exited(_ context.Context, n *node) (bool, error) {
	_, err := p.running(n)
	return err != nil, nil
}

func (p *processes) logs(_ context.Context, n *node) ([]byte, error) {
	return os.ReadFile(p.logFile(n))
}

func (p *processes) close(_ context.Context) error {
	p.mu.Lock()
	procs := make([]*proc, 0, len(p.procs))
	for _, pr := range p.procs {
		procs = append(procs, pr)
	}
	p.mu.Unlock()
	for _, pr := range procs {
		select {
		case <-pr.done:
			continue
		default:
		}
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
		<-pr.done
	}
	return nil
}
