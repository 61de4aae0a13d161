package prom_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/metrics/prom"
)

func TestOutboxCollector(t *testing.T) {
	fail := false
	col, err := prom.NewOutboxCollector("orders", func(context.Context) (prom.OutboxFigures, error) {
		f := prom.OutboxFigures{Relayed: 42, KafkaTxns: 7, SlotLagBytes: 1024, RetainedWALBytes: 4096, PositionAge: 1500 * time.Millisecond}
		if fail {
			return f, errors.New("postgres down")
		}
		return f, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	want := `
# HELP eoskit_outbox_kafka_txns_total Committed Kafka transactions of the relay that carried messages.
# TYPE eoskit_outbox_kafka_txns_total counter
eoskit_outbox_kafka_txns_total{slot="orders"} 7
# HELP eoskit_outbox_position_age_seconds Age of the relay's stored position (the last Kafka transaction with messages); absent without one.
# TYPE eoskit_outbox_position_age_seconds gauge
eoskit_outbox_position_age_seconds{slot="orders"} 1.5
# HELP eoskit_outbox_relayed_total Outbox messages relayed to Kafka (in committed Kafka transactions).
# TYPE eoskit_outbox_relayed_total counter
eoskit_outbox_relayed_total{slot="orders"} 42
# HELP eoskit_outbox_retained_wal_bytes WAL bytes the slot retains on disk (pg_current_wal_lsn() - restart_lsn).
# TYPE eoskit_outbox_retained_wal_bytes gauge
eoskit_outbox_retained_wal_bytes{slot="orders"} 4096
# HELP eoskit_outbox_slot_lag_bytes WAL bytes written after the slot's confirmed_flush_lsn: not yet confirmed by the relay.
# TYPE eoskit_outbox_slot_lag_bytes gauge
eoskit_outbox_slot_lag_bytes{slot="orders"} 1024
# HELP eoskit_outbox_up 1 if the last poll of the relay's figures succeeded, else 0.
# TYPE eoskit_outbox_up gauge
eoskit_outbox_up{slot="orders"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	fail = true
	if n := testutil.CollectAndCount(col); n != 3 {
		t.Errorf("%d metrics after a failed poll, want 3 (the counters and up)", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP eoskit_outbox_up 1 if the last poll of the relay's figures succeeded, else 0.
# TYPE eoskit_outbox_up gauge
eoskit_outbox_up{slot="orders"} 0
`), "eoskit_outbox_up"); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxCollectorOptions(t *testing.T) {
	_, err := prom.NewOutboxCollector("", nil, prom.LagTimeout(0), prom.LagConstLabels(prometheus.Labels{"slot": "x"}))
	var oe *eoskit.OptionError
	if !errors.As(err, &oe) || len(oe.Problems) != 4 {
		t.Fatalf("err %v, want 4 problems", err)
	}
}
