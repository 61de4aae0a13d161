package admin_test

import (
	"fmt"

	"github.com/eoskit/eoskit/admin"
)

// The minimal ACLs of an exactly-once processor that copies orders to
// orders-enriched, one transactional ID per instance under "enricher-".
func ExampleEOSACLs() {
	acls, err := admin.EOSACLs(admin.EOSAccess{
		Principal:             "User:enricher",
		Group:                 "enricher",
		TransactionalIDPrefix: "enricher-",
		InputTopics:           []string{"orders"},
		OutputTopics:          []string{"orders-enriched"},
	})
	if err != nil {
		panic(err)
	}
	for _, a := range acls {
		fmt.Println(a)
	}
	// Output:
	// ALLOW User:enricher READ TOPIC orders literal from host *
	// ALLOW User:enricher DESCRIBE TOPIC orders literal from host *
	// ALLOW User:enricher WRITE TOPIC orders-enriched literal from host *
	// ALLOW User:enricher DESCRIBE TOPIC orders-enriched literal from host *
	// ALLOW User:enricher READ GROUP enricher literal from host *
	// ALLOW User:enricher WRITE TRANSACTIONAL_ID enricher-* prefixed from host *
	// ALLOW User:enricher DESCRIBE TRANSACTIONAL_ID enricher-* prefixed from host *
}
