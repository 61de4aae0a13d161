package client_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eoskit/eoskit/bench/internal/client"
)

func TestPayload(t *testing.T) {
	for _, size := range []int{0, 32, 100, 1000} {
		for _, seq := range []int64{0, 127, 128, 255, 1 << 40} {
			v := client.Payload(seq, size)
			if len(v) != max(size, 32) {
				t.Fatalf("Payload(%d, %d) has %d bytes", seq, size, len(v))
			}
			if !utf8.Valid(v) {
				t.Fatalf("Payload(%d, %d) is not valid UTF-8: string-copying tools would change it", seq, size)
			}
			got, ok := client.Seq(v)
			if !ok || got != seq {
				t.Fatalf("Seq(Payload(%d)) = %d, %v", seq, got, ok)
			}
		}
	}
	if _, ok := client.Seq([]byte("short")); ok {
		t.Fatal("Seq accepted a short value")
	}
	if _, ok := client.Seq([]byte(strings.Repeat("z", 40))); ok {
		t.Fatal("Seq accepted a value that is not hex")
	}
}

func TestParseResult(t *testing.T) {
	r, err := client.ParseResult("noise\n" + client.ResultPrefix + `{"records":5,"seconds":0.5,"commit_p99_ms":12}` + "\n")
	if err != nil || r.Records != 5 || r.Seconds != 0.5 || r.CommitP99 != 12 {
		t.Fatalf("ParseResult = %+v, %v", r, err)
	}
	if _, err := client.ParseResult("no result here\n"); err == nil {
		t.Fatal("ParseResult found a result in output without one")
	}
}

func TestPeakRSS(t *testing.T) {
	if got := client.PeakRSS("/proc/self/status"); got < 1<<20 {
		t.Fatalf("PeakRSS(self) = %v bytes, want at least 1 MiB", got)
	}
	if got := client.PeakRSS("/nonexistent"); got != 0 {
		t.Fatalf("PeakRSS(missing file) = %v, want 0", got)
	}
}

func BenchmarkPayload(b *testing.B) {
	for i := range b.N {
		client.Payload(int64(i), 100)
	}
}
