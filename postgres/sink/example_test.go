package sink_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/postgres/sink"
)

// A sink that stores every order in an orders table, exactly once.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pool, err := pgxpool.New(ctx, "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := sink.Migrate(ctx, pool); err != nil { // or copy sink.SchemaSQL into your migrations
		log.Fatal(err)
	}
	handler := func(ctx context.Context, tx pgx.Tx, records []*kgo.Record) error {
		rows := make([][]any, len(records))
		for i, r := range records {
			rows[i] = []any{string(r.Key), r.Value}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"id", "body"}, pgx.CopyFromRows(rows))
		return err
	}
	s, err := sink.New(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}, pool, handler,
		sink.WithGroup("orders-to-postgres"),
		sink.WithTopics("orders"),
		sink.WithDeadLetterTable(sink.DefaultDeadLetterTable))
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
