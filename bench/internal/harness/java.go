package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Java runs Kafka's own tools from the jars of a Kafka distribution.
type Java struct {
	Home      string // folder holding libs/
	Log4j     string // log4j2 configuration file; empty: Run writes ToolsLog4j to a file
	HeapFlags string // e.g. "-Xmx512M", as Kafka's perf-test scripts
}

// ToolsLog4j keeps the Java tools' stdout to their own output: WARN and
// above to stderr (as Kafka's tools-log4j2 configuration).
const ToolsLog4j = `name = eosbench-tools
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
`

// jvmFlags are those of Kafka's kafka-run-class.sh.
var jvmFlags = []string{
	"-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
	"-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true",
}

func (j Java) command(ctx context.Context, class string, args ...string) *exec.Cmd {
	all := append([]string{}, strings.Fields(j.HeapFlags)...)
	all = append(all, jvmFlags...)
	if j.Log4j != "" {
		all = append(all, "-Dlog4j2.configurationFile="+j.Log4j)
	}
	all = append(all, "-cp", filepath.Join(j.Home, "libs", "*"), "org.apache.kafka.tools."+class)
	return exec.CommandContext(ctx, "java", append(all, args...)...)
}

// Check reports why the tools cannot run here, or nil.
func (j Java) Check() error {
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("java is not on the PATH (install a JDK 17+): %w", err)
	}
	m, _ := filepath.Glob(filepath.Join(j.Home, "libs", "kafka-tools-*.jar"))
	if len(m) == 0 {
		return fmt.Errorf("no kafka-tools jar in %s/libs: run `make kafka`", j.Home)
	}
	return nil
}

// Version returns the first line of `java -version`.
func (j Java) Version() string {
	out, _ := exec.Command("java", "-version").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// producerPerf is ProducerPerformance with the Java producer's defaults
// spelled out (acks=all, idempotence, linger.ms 5, batch.size 16384, five
// requests in flight), transactional when TxnMs > 0.
type producerPerf struct {
	RecordSize int
	TxnMs      int
}

func (p producerPerf) Label() string {
	if p.TxnMs > 0 {
		return "Java ProducerPerformance (transactional)"
	}
	return "Java ProducerPerformance"
}
func (producerPerf) SeqPayload() bool { return false }

var perfFinal = regexp.MustCompile(`^(\d+) records sent, ([\d.]+) records/sec .*50th`)

func (p producerPerf) Run(ctx context.Context, e *Env, w Work) (Measurement, error) {
	args := []string{
		"--bootstrap-server", strings.Join(e.Brokers, ","), "--topic", w.Topic,
		"--num-records", strconv.FormatInt(w.Records, 10), "--record-size", strconv.Itoa(p.RecordSize),
		"--throughput", "-1", "--reporting-interval", "60000",
		"--command-property", "acks=all", "enable.idempotence=true", "linger.ms=5", "batch.size=16384",
		"max.in.flight.requests.per.connection=5",
	}
	if p.TxnMs > 0 {
		args = append(args, "--transactional-id", w.TxnID, "--transaction-duration-ms", strconv.Itoa(p.TxnMs))
	}
	pr, err := runProcess(ctx, e.Java.command(ctx, "ProducerPerformance", args...))
	if err != nil {
		return Measurement{}, err
	}
	m := measured(pr)
	for _, l := range pr.stdout {
		if g := perfFinal.FindStringSubmatch(l.text); g != nil {
			m.Records, _ = strconv.ParseInt(g[1], 10, 64)
			m.RecPerSec, _ = strconv.ParseFloat(g[2], 64)
			return m, nil
		}
	}
	return Measurement{}, fmt.Errorf("ProducerPerformance printed no summary line:\n%s", lastLines(pr.stdoutText(), 10))
}

func measured(pr *procResult) Measurement {
	m := unmeasured()
	m.CPU, m.RSS = pr.cpu, pr.maxRSS
	return m
}

// consumerPerf is ConsumerPerformance reading read_committed in a group.
type consumerPerf struct{}

func (consumerPerf) Label() string    { return "Java ConsumerPerformance" }
func (consumerPerf) SeqPayload() bool { return false }

func (consumerPerf) Run(ctx context.Context, e *Env, w Work) (Measurement, error) {
	pr, err := runProcess(ctx, e.Java.command(ctx, "ConsumerPerformance",
		"--bootstrap-server", strings.Join(e.Brokers, ","), "--topic", w.Topic, "--group", w.Group,
		"--num-records", strconv.FormatInt(w.Records, 10), "--timeout", "60000",
		"--command-property", "isolation.level=read_committed",
		"--command-property", "auto.offset.reset=earliest",
	))
	if err != nil {
		return Measurement{}, err
	}
	cols, err := csvStats(pr.stdoutText(), "nMsg.sec")
	if err != nil {
		return Measurement{}, fmt.Errorf("ConsumerPerformance: %w", err)
	}
	m := measured(pr)
	m.RecPerSec = cols["nMsg.sec"] // from before the group join, as the Go sides
	m.Records = int64(cols["data.consumed.in.nMsg"])
	return m, nil
}

// csvStats parses a "name, name, ..." header line containing marker and the
// data line after it into numbers by column name.
func csvStats(out, marker string) (map[string]float64, error) {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.Contains(l, marker) || i+1 >= len(lines) {
			continue
		}
		names, vals := strings.Split(l, ","), strings.Split(lines[i+1], ",")
		if len(names) != len(vals) {
			break
		}
		m := map[string]float64{}
		for k, n := range names {
			v, err := strconv.ParseFloat(strings.TrimSpace(vals[k]), 64)
			if err == nil {
				m[strings.TrimSpace(n)] = v
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("no statistics line in output:\n%s", lastLines(out, 10))
}

// copier is TransactionalMessageCopier on input partition 0: one
// transaction per poll of at most TxnSize records, batch.size 512 (its own
// settings, not configurable).
type copier struct{ TxnSize int }

func (c copier) Label() string {
	return fmt.Sprintf("Java TransactionalMessageCopier (txn %d)", c.TxnSize)
}
func (copier) SeqPayload() bool { return true }

func (c copier) Run(ctx context.Context, e *Env, w Work) (Measurement, error) {
	pr, err := runProcess(ctx, e.Java.command(ctx, "TransactionalMessageCopier",
		"--broker-list", strings.Join(e.Brokers, ","), "--input-topic", w.Topic, "--input-partition", "0",
		"--output-topic", w.OutTopic, "--consumer-group", w.Group, "--transactional-id", w.TxnID,
		"--transaction-size", strconv.Itoa(c.TxnSize), "--max-messages", strconv.FormatInt(w.Records, 10),
		"--use-group-metadata",
	))
	if err != nil {
		return Measurement{}, err
	}
	// The clock runs from its first loop line (after initTransactions) to
	// its shutdown line, as read by the harness.
	var start, end time.Time
	var total int64
	for _, l := range pr.stdout {
		var st struct {
			Stage    string `json:"stage"`
			Shutdown string `json:"shutdown_complete"`
			Total    int64  `json:"totalProcessed"`
		}
		if json.Unmarshal([]byte(l.text), &st) != nil {
			continue
		}
		if st.Stage == "ProcessLoop" && start.IsZero() {
			start = l.at
		}
		if st.Stage == "ShutdownComplete" || st.Shutdown != "" { // 4.x prints the stage, older versions the key
			end, total = l.at, st.Total
		}
	}
	if start.IsZero() || end.IsZero() {
		return Measurement{}, fmt.Errorf("TransactionalMessageCopier printed no progress or shutdown line:\n%s", lastLines(pr.stdoutText(), 10))
	}
	m := measured(pr)
	m.Records = total
	m.RecPerSec = float64(total) / end.Sub(start).Seconds()
	return m, nil
}

// endToEnd is EndToEndLatency: one record at a time, produced (acks=all) and
// then consumed read_committed before the next is sent.
type endToEnd struct{ RecordSize int }

func (endToEnd) Label() string    { return "Java EndToEndLatency (one record at a time)" }
func (endToEnd) SeqPayload() bool { return false }

var e2ePercentiles = regexp.MustCompile(`50th = ([\d.]+), 99th = ([\d.]+)`)

func (t endToEnd) Run(ctx context.Context, e *Env, w Work) (Measurement, error) {
	cfg := filepath.Join(e.WorkDir, "e2e-"+w.Topic+".properties")
	if err := os.WriteFile(cfg, []byte("isolation.level=read_committed\n"), 0o644); err != nil {
		return Measurement{}, err
	}
	pr, err := runProcess(ctx, e.Java.command(ctx, "EndToEndLatency",
		strings.Join(e.Brokers, ","), w.Topic, strconv.FormatInt(w.Records, 10), "all", strconv.Itoa(t.RecordSize), cfg))
	if err != nil {
		return Measurement{}, err
	}
	out := pr.stdoutText()
	g := e2ePercentiles.FindStringSubmatch(out)
	if g == nil {
		return Measurement{}, fmt.Errorf("EndToEndLatency printed no percentiles:\n%s", lastLines(out, 10))
	}
	m := measured(pr)
	m.Records = w.Records // it fails unless every record comes back
	m.E2EP50, _ = strconv.ParseFloat(g[1], 64)
	m.E2EP99, _ = strconv.ParseFloat(g[2], 64)
	return m, nil
}
