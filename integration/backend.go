package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// chooseBackend builds the configured backend, or picks one: containers when a
// container engine answers, else processes when java and the jars are there.
// The choice, and the container engine found, are logged and printed to
// stderr once per cluster.
func chooseBackend(ctx context.Context, cfg *config) (backend, error) {
	switch cfg.backend {
	case BackendContainers:
		ce, err := newContainers(ctx, cfg)
		if err != nil {
			return nil, err
		}
		announce(cfg, BackendContainers, "asked for; engine "+ce.engine.String()+"; image "+ce.image)
		return ce, nil
	case BackendProcesses:
		return newProcesses(cfg)
	}
	ce, cerr := newContainers(ctx, cfg)
	if cerr == nil {
		announce(cfg, BackendContainers, "a container engine answers: "+ce.engine.String()+"; image "+ce.image)
		return ce, nil
	}
	pe, perr := newProcesses(cfg)
	if perr == nil {
		announce(cfg, BackendProcesses, "no container engine answered; Kafka jars in "+cfg.kafkaHome)
		return pe, nil
	}
	return nil, fmt.Errorf("integration: no backend can run Kafka here: %w", errors.Join(cerr, perr))
}

func announce(cfg *config, b Backend, why string) {
	cfg.logger.Info("integration backend chosen", "backend", b, "why", why)
	fmt.Fprintf(os.Stderr, "eoskit/integration: backend %s (%s; set %s to choose)\n", b, why, EnvBackend)
}
