//go:build integration

package admin_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/integration"
)

// TestBrokerACLsWithoutAuthorizer: this suite's cluster runs no authorizer,
// so planning ACLs fails with SECURITY_DISABLED instead of pretending. The
// ACL round trip on an authorizing cluster is in integration/securitytest.
func TestBrokerACLsWithoutAuthorizer(t *testing.T) {
	adm, _ := brokerAdmin(t)
	_, err := adm.PlanACLs(integration.Context(t, time.Minute), admin.EOSAccess{Principal: "User:app", Group: "g", TransactionalID: "app-0",
		InputTopics: []string{"in"}, OutputTopics: []string{"out"}})
	if !errors.Is(err, kerr.SecurityDisabled) {
		t.Fatalf("PlanACLs without an authorizer: %v, want SECURITY_DISABLED", err)
	}
}
