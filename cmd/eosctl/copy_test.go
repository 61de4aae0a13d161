package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCopyUsageErrors(t *testing.T) {
	ok := []string{"copy", "--from", "in", "--to", "out", "--group", "g", "--txn-id", "g-0"}
	for name, args := range map[string][]string{
		"no from":          {"copy", "--to", "out", "--group", "g", "--txn-id", "g-0"},
		"no txn id":        {"copy", "--from", "in", "--to", "out", "--group", "g"},
		"nothing":          {"copy"},
		"to is from":       {"copy", "--from", "in", "--to", "in", "--group", "g", "--txn-id", "g-0"},
		"bad start":        append(ok, "--start", "middle"),
		"bad log level":    append(ok, "--log-level", "loud"),
		"bad output":       append(ok, "--output", "xml"),
		"zero txn records": append(ok, "--max-txn-records", "0"),
		"interval":         append(ok, "--commit-interval", "1m", "--txn-timeout", "10s"),
		"argument":         append(ok, "extra"),
	} {
		if r := run(t, "", args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("%s: exit %d, stderr %q; want %d and a message", name, r.code, r.stderr, exitUsage)
		}
	}
	r := run(t, "", "copy")
	if !strings.Contains(r.stderr, "--from --to --group --txn-id") {
		t.Errorf("missing flags not named: %q", r.stderr)
	}
}

func TestCopyOnFake(t *testing.T) { copyAndVerify(t, fakeBrokers(t), "src", "dst", "copiers") }

// copyAndVerify copies topic src to dst with two eosctl copy instances
// in-process, stops them like SIGINT would (cancelling the context), and
// checks the copy with eosctl verify.
func copyAndVerify(t *testing.T, b, src, dst, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b, ",")...), kgo.DefaultProduceTopic(src))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 3, 1, nil, src, dst); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%50), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	type copyRun struct {
		code           int
		stdout, stderr bytes.Buffer
		done           chan struct{}
	}
	copyCtx, stopCopies := context.WithCancel(ctx)
	defer stopCopies()
	var runs []*copyRun
	for i := range 2 {
		cr := &copyRun{done: make(chan struct{})}
		runs = append(runs, cr)
		go func() {
			defer close(cr.done)
			cr.code = Execute(copyCtx, []string{"copy", "--brokers", b, "--from", src, "--to", dst, "--group", group,
				"--txn-id", fmt.Sprintf("%s-%d", group, i), "--output", "json"}, strings.NewReader(""), &cr.stdout, &cr.stderr)
		}()
	}
	// Wait for the group to commit every input offset.
	for {
		lag, err := adm.Lag(ctx, group)
		if err == nil && lag[group].Lag.Total() == 0 && len(lag[group].Lag[src]) == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("copies did not catch up: %v %+v", err, lag)
		case <-time.After(100 * time.Millisecond):
		}
	}
	stopCopies()
	var in int64
	for i, cr := range runs {
		<-cr.done
		var st copyStats
		if err := json.Unmarshal(cr.stdout.Bytes(), &st); err != nil || cr.code != exitOK {
			t.Fatalf("copy %d: exit %d, %v, stdout %q stderr %q", i, cr.code, err, cr.stdout.String(), cr.stderr.String())
		}
		in += st.RecordsIn
	}
	if in != n {
		t.Errorf("the copies committed %d input records, want %d", in, n)
	}
	if r := run(t, "", "verify", "--brokers", b, "--from", src, "--to", dst, "--order", "--identity"); r.code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
