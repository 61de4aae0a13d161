package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eoskit/eoskit/bench/internal/client"
)

// procResult is what one client process did and cost.
type procResult struct {
	stdout  []line
	stderr  string  // last lines
	cpu     float64 // user+system CPU-seconds of the process (all threads)
	maxRSS  float64 // peak resident set, bytes
	started time.Time
	exited  time.Time
}

// line is one stdout line and when the harness read it.
type line struct {
	at   time.Time
	text string
}

func (r *procResult) stdoutText() string {
	var b strings.Builder
	for _, l := range r.stdout {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// runProcess runs cmd to completion and measures it. CPU time comes from
// the kernel's accounting of the waited-for child (wait4 rusage: the same
// utime+stime as /proc/<pid>/stat), so the harness's own work is never
// counted. Peak RSS is the child's VmHWM, sampled from /proc/<pid>/status
// while it runs: rusage's ru_maxrss is no good here, as Go starts children
// with vfork and exec records the parent's (the harness's) high-water mark
// into the child's. A non-zero exit is an error that quotes the end of stderr.
func runProcess(ctx context.Context, cmd *exec.Cmd) (*procResult, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	res := &procResult{started: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	hwm := watchHWM(cmd.Process.Pid)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		res.stdout = append(res.stdout, line{at: time.Now(), text: sc.Text()})
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	res.exited = time.Now()
	res.stderr = stderr.String()
	res.maxRSS = hwm()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = tv(ru.Utime) + tv(ru.Stime)
	}
	if werr != nil {
		if ctx.Err() != nil {
			werr = fmt.Errorf("%w (%w)", werr, ctx.Err())
		}
		return res, fmt.Errorf("%s: %w; stderr ends:\n%s\nstdout ends:\n%s", cmd.Args[0], werr, res.stderr, lastLines(res.stdoutText(), 10))
	}
	return res, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLines(string(bytes.TrimSpace(t.b)), 20)
}

func lastLines(s string, n int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n")
}

// watchHWM samples a process's VmHWM every 20 ms until the returned
// function is called, which stops sampling and returns the largest value
// seen, in bytes.
func watchHWM(pid int) func() float64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var (
		mu   sync.Mutex
		peak float64
	)
	sample := func() {
		v := client.PeakRSS(path)
		mu.Lock()
		peak = max(peak, v)
		mu.Unlock()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
