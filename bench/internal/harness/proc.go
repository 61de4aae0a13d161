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

// runProcess runs cmd to completion and measures it. CPU time and peak RSS
// come from the kernel's accounting of the waited-for child (wait4 rusage:
// the same utime+stime as /proc/<pid>/stat, and the VmHWM high-water mark),
// so the harness's own work is never counted. A non-zero exit is an error
// that quotes the end of stderr.
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
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		res.stdout = append(res.stdout, line{at: time.Now(), text: sc.Text()})
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	res.exited = time.Now()
	res.stderr = stderr.String()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = tv(ru.Utime) + tv(ru.Stime)
		res.maxRSS = float64(ru.Maxrss) * 1024 // kilobytes on Linux
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
