package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progress shows how far a long-running command is on stderr: records (or
// steps) done of a total, the rate and an ETA. It is silent when stderr is
// not a terminal or with --quiet, so logs and pipes stay clean. Safe for
// concurrent use; the zero value and nil are silent.
type progress struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

// quietFlag is --quiet for the commands that show progress.
type quietFlag struct{ quiet bool }

func (q *quietFlag) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&q.quiet, "quiet", "q", false, "no progress bar on stderr (there is none when stderr is not a terminal)")
}

// newProgress starts a progress bar for total units called what ("records",
// "partitions"); total -1 for unknown (a spinner with the count and rate).
func newProgress(e *env, q quietFlag, total int64, desc, what string) *progress {
	if q.quiet || !isTerminalWriter(e.stderr) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(what),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)}
}

// Add counts n more units done.
func (p *progress) Add(n int) {
	if p == nil || p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Add(n)
}

// Set sets the units done.
func (p *progress) Set(n int64) {
	if p == nil || p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Set64(n)
}

// SetTotal changes the total (when it becomes known or grows).
func (p *progress) SetTotal(total int64) {
	if p == nil || p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.ChangeMax64(total)
}

// Done removes the bar from the terminal; call it before printing the
// summary.
func (p *progress) Done() {
	if p == nil || p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Finish()
	_ = p.bar.Exit()
}

// isTerminalWriter reports whether w is an interactive terminal. Tests may
// pass a writer with an IsTerminal method.
func isTerminalWriter(w io.Writer) bool {
	if t, ok := w.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// clearScreen moves the cursor home and clears a terminal (for --watch).
func clearScreen(w io.Writer) { fmt.Fprint(w, "\x1b[H\x1b[2J") }
