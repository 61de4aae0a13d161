package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/integration"
)

type devPostgresFlags struct {
	backend      string
	image        string
	binDir       string
	settings     []string
	startTimeout time.Duration
}

func newDevPostgresCmd(e *env) *cobra.Command {
	var f devPostgresFlags
	cmd := &cobra.Command{
		Use:   "postgres",
		Short: "Start a real PostgreSQL server (logical replication on) in the foreground",
		Long: `Start a PostgreSQL ` + integration.PostgresVersion + ` server on 127.0.0.1 with logical replication on
(wal_level=logical) and trust authentication, and keep it running.

Once it accepts connections, one line is printed on stdout:

    dsn=postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable

Ctrl-C or SIGTERM stops it and removes its container or folder (its data is gone).

Backends: "containers" runs the image from 'make postgres-image' (or postgres:` + integration.PostgresVersion + `);
"processes" runs initdb and postgres from Debian's postgresql package ('make postgres').
Without --backend (or EOSKIT_BACKEND) eosctl picks containers when an engine answers.`,
		Example: `  eosctl dev postgres
  eosctl dev postgres --backend processes --setting max_connections=50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.options(e)
			if err != nil {
				return usageErr(err)
			}
			return runDevPostgres(cmd.Context(), e, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.backend, "backend", "", "containers or processes (default: $EOSKIT_BACKEND, else automatic)")
	fl.StringVar(&f.image, "image", "", "container image (default: $"+integration.EnvPostgresImage+", else the local eoskit image, else postgres:"+integration.PostgresVersion+")")
	fl.StringVar(&f.binDir, "bin-dir", "", "folder with initdb and postgres (default: $"+integration.EnvPostgresBinDir+", else PATH, pg_config, /usr/lib/postgresql/*/bin)")
	fl.StringArrayVar(&f.settings, "setting", nil, "server setting KEY=VALUE (repeatable)")
	fl.DurationVar(&f.startTimeout, "start-timeout", 2*time.Minute, "how long to wait for the server to accept connections")
	return cmd
}

func (f *devPostgresFlags) options(e *env) ([]integration.PostgresOption, error) {
	opts := []integration.PostgresOption{
		integration.WithLogicalReplication(),
		integration.WithPostgresStartTimeout(f.startTimeout),
		integration.WithPostgresLogger(slog.New(slog.NewTextHandler(e.stderr, nil))),
	}
	if f.backend != "" { // StartPostgres refuses an unknown one (ErrInvalidOption: exit 2)
		opts = append(opts, integration.WithPostgresBackend(integration.Backend(f.backend)))
	}
	if f.image != "" {
		opts = append(opts, integration.WithPostgresImage(f.image))
	}
	if f.binDir != "" {
		opts = append(opts, integration.WithPostgresBinDir(f.binDir))
	}
	for _, kv := range f.settings {
		k, v, ok := cutKV(kv)
		if !ok {
			return nil, fmt.Errorf("--setting %q: want KEY=VALUE", kv)
		}
		opts = append(opts, integration.WithPostgresSetting(k, v))
	}
	return opts, nil
}

func runDevPostgres(ctx context.Context, e *env, opts []integration.PostgresOption) error {
	pg, err := integration.StartPostgres(ctx, opts...)
	if errors.Is(err, integration.ErrInvalidOption) {
		return usageErr(err)
	}
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(e.stderr, "eosctl: stopping postgres")
		if err := pg.Close(); err != nil {
			fmt.Fprintf(e.stderr, "eosctl: close postgres: %v\n", err)
		}
	}()
	fmt.Fprintf(e.stdout, "dsn=%s\n", pg.DSN())
	fmt.Fprintf(e.stderr, "eosctl: postgres on backend %s accepts connections; Ctrl-C stops it\n", pg.Backend())
	<-ctx.Done()
	return nil
}
