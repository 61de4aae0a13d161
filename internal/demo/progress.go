package demo

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws the running state on a writer (stderr) and prints events.
type progress struct {
	mu       sync.Mutex
	w        io.Writer // nil: silent
	terminal bool
	start    time.Time
	line     bool // a redrawable line is on screen
	last     time.Time
}

func newProgress(w io.Writer, terminal bool) *progress {
	return &progress{w: w, terminal: terminal, start: time.Now()}
}

// event prints a line that stays.
func (p *progress) event(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// status redraws the status line (on a terminal) or prints it once a second.
func (p *progress) status(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := fmt.Sprintf("[%5.1fs] %s", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
		p.line = true
		return
	}
	if time.Since(p.last) >= time.Second {
		fmt.Fprintln(p.w, s)
		p.last = time.Now()
	}
}

// done removes the status line.
func (p *progress) done() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *progress) clear() {
	if p.line {
		fmt.Fprint(p.w, "\r\033[K")
		p.line = false
	}
}
