package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eoskit/eoskit/integration"
)

// Debezium's PostgreSQL connector on one Kafka Connect worker in distributed
// mode (exactly.once.source.support needs it; standalone mode is
// at-least-once), started from Kafka's own jars with the connector's plugin
// folder (build/debezium/fetch.sh).

// debeziumRun is what one Debezium run relays.
type debeziumRun struct {
	home        string // debeziumHome
	pg          *integration.Postgres
	slot        string
	table       string // schema-qualified outbox table
	publication string
	name        string // unique: the Connect group, its topics, the connector
}

// connectWorkerProps is the distributed worker's configuration: one worker,
// internal topics of replication factor 1, byte-array converters (the
// outbox router's key and value are the bytea columns), exactly-once source
// support on, the REST API on 127.0.0.1:port.
func connectWorkerProps(brokers []string, name, pluginPath string, port int) map[string]string {
	return map[string]string{
		"bootstrap.servers":                       strings.Join(brokers, ","),
		"group.id":                                name,
		"config.storage.topic":                    name + "-configs",
		"offset.storage.topic":                    name + "-offsets",
		"status.storage.topic":                    name + "-status",
		"config.storage.replication.factor":       "1",
		"offset.storage.replication.factor":       "1",
		"status.storage.replication.factor":       "1",
		"offset.storage.partitions":               "1",
		"status.storage.partitions":               "1",
		"key.converter":                           "org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter":                         "org.apache.kafka.connect.converters.ByteArrayConverter",
		"exactly.once.source.support":             "enabled",
		"listeners":                               "http://127.0.0.1:" + strconv.Itoa(port),
		"rest.advertised.host.name":               "127.0.0.1",
		"rest.advertised.port":                    strconv.Itoa(port),
		"plugin.path":                             pluginPath,
		"plugin.discovery":                        "hybrid_warn",
		"offset.flush.interval.ms":                "1000",
		"scheduled.rebalance.max.delay.ms":        "0",
		"producer.client.id":                      name + "-producer",
		"consumer.client.id":                      name + "-consumer",
		"connector.client.config.override.policy": "All",
	}
}

// debeziumConnectorConfig is the PostgreSQL connector with the outbox event
// router: the existing slot and publication (eosctl outbox init made them),
// streaming only, each row routed to the topic its topic column names, with
// its key and value columns as the record's key and value.
func debeziumConnectorConfig(r debeziumRun, port int) map[string]string {
	return map[string]string{
		"connector.class":                             "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                                   "1",
		"database.hostname":                           "127.0.0.1",
		"database.port":                               strconv.Itoa(port),
		"database.user":                               "postgres",
		"database.password":                           "postgres",
		"database.dbname":                             "postgres",
		"topic.prefix":                                strings.ReplaceAll(r.name, "-", "_"),
		"plugin.name":                                 "pgoutput",
		"slot.name":                                   r.slot,
		"publication.name":                            r.publication,
		"publication.autocreate.mode":                 "disabled",
		"table.include.list":                          r.table,
		"snapshot.mode":                               "no_data",
		"binary.handling.mode":                        "bytes",
		"exactly.once.support":                        "required",
		"transaction.boundary":                        "poll",
		"transforms":                                  "outbox",
		"transforms.outbox.type":                      "io.debezium.transforms.outbox.EventRouter",
		"transforms.outbox.table.field.event.id":      "id",
		"transforms.outbox.table.field.event.key":     "key",
		"transforms.outbox.table.field.event.payload": "value",
		"transforms.outbox.route.by.field":            "topic",
		"transforms.outbox.route.topic.replacement":   "${routedByValue}",
		"transforms.outbox.table.expand.json.payload": "false",
	}
}

// properties renders a Java properties file (sorted; values need no escaping here).
func properties(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}

// connectorStatus is GET /connectors/NAME/status.
type connectorStatus struct {
	Connector struct {
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"tasks"`
}

// running says whether the connector and all its tasks run, or why it failed.
func (s connectorStatus) running() (bool, error) {
	if s.Connector.State == "FAILED" {
		return false, fmt.Errorf("connector FAILED: %s", firstLines(s.Connector.Trace, 8))
	}
	for _, t := range s.Tasks {
		if t.State == "FAILED" {
			return false, fmt.Errorf("task %d FAILED: %s", t.ID, firstLines(t.Trace, 8))
		}
	}
	if s.Connector.State != "RUNNING" || len(s.Tasks) == 0 {
		return false, nil
	}
	for _, t := range s.Tasks {
		if t.State != "RUNNING" {
			return false, nil
		}
	}
	return true, nil
}

func firstLines(s string, n int) string {
	all := strings.Split(s, "\n")
	return strings.Join(all[:min(n, len(all))], "\n")
}

// startDebezium starts a Connect worker, creates the connector and waits
// until its task runs. The caller waits for the slot to stream and stops
// the worker; the worker's internal topics are deleted when it stops.
func startDebezium(ctx context.Context, e *Env, r debeziumRun) (*relayProcess, error) {
	if r.home == "" {
		return nil, fmt.Errorf("no Debezium folder: run `make debezium`")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	props := filepath.Join(e.WorkDir, r.name+"-worker.properties")
	if err := os.WriteFile(props, []byte(properties(connectWorkerProps(e.Brokers, r.name, filepath.Join(r.home, "plugins"), port))), 0o644); err != nil {
		return nil, err
	}
	args := []string{"-Xms256M", "-Xmx2G"} // connect-distributed.sh's heap
	args = append(args, jvmFlags...)
	if e.Java.Log4j != "" {
		args = append(args, "-Dlog4j2.configurationFile="+e.Java.Log4j)
	}
	args = append(args, "-cp", filepath.Join(r.home, "connect", "libs", "*"), "org.apache.kafka.connect.cli.ConnectDistributed", props)
	rp, err := startRelayProcess(ctx, exec.CommandContext(ctx, "java", args...), "")
	if err != nil {
		return nil, err
	}
	rp.onStop = func() {
		for _, t := range []string{"-configs", "-offsets", "-status"} {
			deleteTopic(e, r.name+t)
		}
	}
	stopAll := func(err error) (*relayProcess, error) {
		rp.stop()
		return nil, fmt.Errorf("debezium: %w; worker output ends:\n%s", err, rp.stderr.String())
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	body, _ := json.Marshal(debeziumConnectorConfig(r, r.pg.Port()))
	deadline := time.Now().Add(3 * time.Minute)
	created := false
	for {
		if time.Now().After(deadline) {
			return stopAll(fmt.Errorf("the connector did not run within 3 min"))
		}
		select {
		case <-rp.exited:
			return stopAll(fmt.Errorf("the Connect worker exited: %v", rp.werr))
		case <-ctx.Done():
			return stopAll(ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
		if !created {
			code, out, err := restCall(ctx, http.MethodPut, base+"/connectors/"+r.name+"/config", body)
			switch {
			case err != nil: // the REST server is not up yet
				continue
			case code == http.StatusCreated || code == http.StatusOK:
				created = true
			case code == http.StatusBadRequest:
				return stopAll(fmt.Errorf("connector configuration refused: %s", out))
			default:
				continue // 409 while the worker joins its group, 404 before it serves
			}
		}
		code, out, err := restCall(ctx, http.MethodGet, base+"/connectors/"+r.name+"/status", nil)
		if err != nil || code != http.StatusOK {
			continue
		}
		var st connectorStatus
		if err := json.Unmarshal(out, &st); err != nil {
			continue
		}
		ok, err := st.running()
		if err != nil {
			return stopAll(err)
		}
		if ok {
			return rp, nil
		}
	}
}

func restCall(ctx context.Context, method, url string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
