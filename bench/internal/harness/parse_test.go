package harness

import "testing"

// Output lines as Kafka 4.4's tools print them.
func TestProducerPerformanceSummary(t *testing.T) {
	progress := "1480141 records sent, 296028.2 records/sec (28.23 MB/sec), 96.1 ms avg latency, 256.0 ms max latency."
	final := "2000000 records sent, 312012.5 records/sec (29.76 MB/sec), 80.42 ms avg latency, 459.00 ms max latency, 65 ms 50th, 270 ms 95th, 393 ms 99th, 450 ms 99.9th."
	if perfFinal.MatchString(progress) {
		t.Fatal("a progress line was taken for the summary")
	}
	g := perfFinal.FindStringSubmatch(final)
	if g == nil || g[1] != "2000000" || g[2] != "312012.5" {
		t.Fatalf("summary parsed as %q", g)
	}
}

func TestConsumerPerformanceStats(t *testing.T) {
	out := "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n" +
		"2026-11-27 01:44:07:123, 2026-11-27 01:44:08:456, 1.9073, 1.4308, 20000, 15003.7509, 312, 1021, 1.8681, 19588.6386\n"
	m, err := csvStats(out, "nMsg.sec")
	if err != nil {
		t.Fatal(err)
	}
	if m["nMsg.sec"] != 15003.7509 || m["data.consumed.in.nMsg"] != 20000 || m["fetch.nMsg.sec"] != 19588.6386 {
		t.Fatalf("parsed %v", m)
	}
	if _, err := csvStats("WARN something\n", "nMsg.sec"); err == nil {
		t.Fatal("no error for output without statistics")
	}
}

func TestEndToEndPercentiles(t *testing.T) {
	g := e2ePercentiles.FindStringSubmatch("Avg latency: 2.1234 ms\nPercentiles: 50th = 2, 99th = 14, 99.9th = 31\n")
	if g == nil || g[1] != "2" || g[2] != "14" {
		t.Fatalf("parsed %q", g)
	}
}
