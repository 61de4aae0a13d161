package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresVersion is the PostgreSQL major version the harness runs.
const PostgresVersion = "15"

// Environment variables read by StartPostgres when the corresponding option
// is not given. EnvBackend chooses the backend for PostgreSQL too.
const (
	EnvPostgresImage  = "EOSKIT_POSTGRES_IMAGE"  // container image (default: see LocalPostgresImage)
	EnvPostgresBinDir = "EOSKIT_POSTGRES_BINDIR" // folder with initdb and postgres (default: found)
)

// OfficialPostgresImage is the PostgreSQL project's image, used where no
// local eoskit image exists.
func OfficialPostgresImage() string { return "postgres:" + PostgresVersion }

// LocalPostgresImage is the image `make postgres-image` builds from Debian's
// postgresql package (build/postgres/image.sh), without a registry.
func LocalPostgresImage() string { return "localhost/eoskit-postgres:" + PostgresVersion }

// PostgresOption configures StartPostgres.
type PostgresOption func(*pgConfig)

type pgConfig struct {
	backend      Backend
	image        string
	binDir       string
	logical      bool
	settings     map[string]string
	logger       *slog.Logger
	startTimeout time.Duration
}

// WithPostgresBackend chooses the backend (default: $EOSKIT_BACKEND, else
// containers when an engine answers, else processes).
func WithPostgresBackend(b Backend) PostgresOption { return func(c *pgConfig) { c.backend = b } }

// WithPostgresImage sets the container image (containers backend). It must
// accept the official image's command line (`postgres -p PORT -c k=v ...`)
// and initialise an empty data folder with trust authentication.
func WithPostgresImage(image string) PostgresOption { return func(c *pgConfig) { c.image = image } }

// WithPostgresBinDir sets the folder holding initdb and postgres (processes
// backend).
func WithPostgresBinDir(dir string) PostgresOption { return func(c *pgConfig) { c.binDir = dir } }

// WithLogicalReplication starts the server with wal_level=logical and room
// for replication slots and WAL senders (for logical decoding, e.g. an
// outbox relay).
func WithLogicalReplication() PostgresOption { return func(c *pgConfig) { c.logical = true } }

// WithPostgresSetting sets one server setting (`-c key=value`), overriding
// eoskit's defaults.
func WithPostgresSetting(key, value string) PostgresOption {
	return func(c *pgConfig) { c.settings[key] = value }
}

// WithPostgresLogger receives progress messages.
func WithPostgresLogger(l *slog.Logger) PostgresOption { return func(c *pgConfig) { c.logger = l } }

// WithPostgresStartTimeout bounds how long a start waits for the server to
// accept connections. Default 2m.
func WithPostgresStartTimeout(d time.Duration) PostgresOption {
	return func(c *pgConfig) { c.startTimeout = d }
}

func (c *pgConfig) validate() error {
	var probs []string
	if c.backend != "" && c.backend != BackendContainers && c.backend != BackendProcesses {
		probs = append(probs, fmt.Sprintf("unknown backend %q: use %q or %q", c.backend, BackendContainers, BackendProcesses))
	}
	if c.startTimeout <= 0 {
		probs = append(probs, "start timeout must be positive")
	}
	for k := range c.settings {
		if k == "" || strings.ContainsAny(k, " =") {
			probs = append(probs, fmt.Sprintf("setting name %q is not a PostgreSQL setting", k))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("integration: postgres: %s: %w", strings.Join(probs, "; "), ErrInvalidOption)
	}
	return nil
}

// serverSettings returns the `-c` settings: fast, crash-safe enough for
// tests (fsync off survives a killed server, not a killed machine), then
// logical replication, then the caller's.
func (c *pgConfig) serverSettings(port int) []string {
	s := map[string]string{
		"listen_addresses": "127.0.0.1",
		"port":             fmt.Sprint(port),
		"fsync":            "off",
		"max_connections":  "200",
		"log_min_messages": "warning",
	}
	if c.logical {
		s["wal_level"] = "logical"
		s["max_replication_slots"] = "20"
		s["max_wal_senders"] = "20"
	}
	for k, v := range c.settings {
		s[k] = v
	}
	var args []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		args = append(args, "-c", k+"="+s[k])
	}
	return args
}

// pgBackend runs one PostgreSQL server. Methods are called one at a time.
type pgBackend interface {
	kind() Backend
	create(ctx context.Context) error // initialise and start for the first time
	start(ctx context.Context) error
	stop(ctx context.Context) error // fast shutdown (SIGINT), then SIGKILL
	kill(ctx context.Context) error // SIGKILL, at once
	exited(ctx context.Context) bool
	logs(ctx context.Context) ([]byte, error)
	close(ctx context.Context) error
}

// Postgres is a running PostgreSQL server on 127.0.0.1 with trust
// authentication (user postgres, database postgres). Its methods are safe
// for concurrent use; fault methods are serialised.
type Postgres struct {
	cfg  pgConfig
	be   pgBackend
	port int

	mu     sync.Mutex
	closed bool
}

// StartPostgres starts a server and waits until it accepts connections. On
// error everything it started is removed. Cancelling ctx aborts the start.
func StartPostgres(ctx context.Context, opts ...PostgresOption) (*Postgres, error) {
	cfg := pgConfig{settings: map[string]string{}, logger: slog.New(slog.DiscardHandler), startTimeout: 2 * time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.backend == "" {
		cfg.backend = Backend(os.Getenv(EnvBackend))
	}
	if cfg.image == "" {
		cfg.image = os.Getenv(EnvPostgresImage)
	}
	if cfg.binDir == "" {
		cfg.binDir = os.Getenv(EnvPostgresBinDir)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	p := &Postgres{cfg: cfg, port: ports[0]}
	if p.be, err = choosePgBackend(ctx, &cfg, p.port); err != nil {
		return nil, err
	}
	began := time.Now()
	cfg.logger.Info("starting postgres", "backend", p.be.kind(), "port", p.port, "logical", cfg.logical)
	if err := p.be.create(ctx); err != nil {
		logs := p.LogTail(context.Background(), 40)
		_ = p.Close()
		return nil, fmt.Errorf("integration: start postgres: %w\n%s", err, logs)
	}
	if err := p.waitReady(ctx); err != nil {
		logs := p.LogTail(context.Background(), 40)
		_ = p.Close()
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	cfg.logger.Info("postgres ready", "backend", p.be.kind(), "dsn", p.DSN(), "took", time.Since(began).Round(time.Millisecond))
	return p, nil
}

// StartPostgresT starts a server for one test and registers its Close with
// tb.Cleanup; a failed test gets the server's log tail first. A server that
// cannot start fails the test (it never skips).
func StartPostgresT(tb testing.TB, opts ...PostgresOption) *Postgres {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := StartPostgres(ctx, opts...)
	if err != nil {
		tb.Fatalf("start postgres: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("postgres %s (%s) log:\n%s", p.DSN(), p.Backend(), p.LogTail(context.Background(), 80))
		}
		if err := p.Close(); err != nil {
			tb.Logf("close postgres: %v", err)
		}
	})
	return p
}

func choosePgBackend(ctx context.Context, cfg *pgConfig, port int) (pgBackend, error) {
	switch cfg.backend {
	case BackendContainers:
		return newPgContainers(ctx, cfg, port)
	case BackendProcesses:
		return newPgProcesses(cfg, port)
	}
	ce, cerr := newPgContainers(ctx, cfg, port)
	if cerr == nil {
		return ce, nil
	}
	pe, perr := newPgProcesses(cfg, port)
	if perr == nil {
		return pe, nil
	}
	return nil, fmt.Errorf("integration: no backend can run PostgreSQL here: %w", errors.Join(cerr, perr))
}

// Backend reports which backend runs the server.
func (p *Postgres) Backend() Backend { return p.be.kind() }

// Port is the server's TCP port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// DSN is a connection URL for the superuser postgres on database postgres.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Stop shuts the server down (fast shutdown: sessions are ended, committed
// data is kept). Restart brings it back.
func (p *Postgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.logger.Info("stopping postgres")
	if err := p.be.stop(ctx); err != nil {
		return fmt.Errorf("integration: stop postgres: %w", err)
	}
	return nil
}

// Kill ends the server with SIGKILL, as a crash would: the postmaster and
// every backend (on processes, each in a session of its own) are gone when
// Kill returns, open sessions break, open transactions are lost and
// committed ones survive (crash recovery at the next start).
func (p *Postgres) Kill(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.logger.Info("killing postgres")
	if err := p.be.kill(ctx); err != nil {
		return fmt.Errorf("integration: kill postgres: %w", err)
	}
	return nil
}

// Restart starts the server again on the same port and data, stopping it
// first when it runs, and waits until it accepts connections.
func (p *Postgres) Restart(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.be.exited(ctx) {
		if err := p.be.stop(ctx); err != nil {
			return fmt.Errorf("integration: restart postgres: stop: %w", err)
		}
	}
	p.cfg.logger.Info("starting postgres again")
	if err := p.be.start(ctx); err != nil {
		return fmt.Errorf("integration: restart postgres: %w", err)
	}
	return p.waitReady(ctx)
}

// waitReady polls with a connection and SELECT 1 until the server answers.
func (p *Postgres) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.startTimeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		conn, err := pgx.Connect(cctx, p.DSN())
		if err == nil {
			var one int
			err = conn.QueryRow(cctx, "SELECT 1").Scan(&one)
			_ = conn.Close(context.Background())
		}
		ccancel()
		if err == nil {
			return nil
		}
		last = err
		if p.be.exited(ctx) {
			return fmt.Errorf("integration: postgres exited while starting: %v: %w", last, ErrNotHealthy)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("integration: postgres did not accept connections in %v: %v: %w", p.cfg.startTimeout, last, ErrNotHealthy)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogTail returns the last n lines of the server's log.
func (p *Postgres) LogTail(ctx context.Context, n int) string {
	b, err := p.be.logs(ctx)
	if err != nil && len(b) == 0 {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close stops the server and removes its container or folder. It is safe to
// call more than once.
func (p *Postgres) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.be == nil {
		return nil
	}
	p.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.be.close(ctx)
}
