package outbox

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
)

// Position is where the relay is: the commit LSN of a database
// transaction and the index (from 0) of a message within it. The relay
// stores the position of the last message of each Kafka transaction as
// that transaction's last record, in the positions topic, keyed by slot.
type Position struct {
	LSN   pglogrepl.LSN
	Index int
	// Complete is true when the database transaction's last message is
	// at Index (false: the transaction was split by WithMaxTxnMessages and
	// the rest follows in the next Kafka transaction).
	Complete bool
	// At is when the Kafka transaction was written.
	At time.Time
}

// After reports whether (lsn, index) comes after p: messages at or below
// the stored position are skipped.
func (p Position) After(lsn pglogrepl.LSN, index int) bool {
	return lsn > p.LSN || (lsn == p.LSN && index > p.Index)
}

// IsZero reports a position never stored.
func (p Position) IsZero() bool { return p.LSN == 0 && p.Index == 0 && !p.Complete }

type positionJSON struct {
	LSN      string `json:"lsn"`
	Index    int    `json:"index"`
	Complete bool   `json:"complete"`
	At       string `json:"at"`
}

// MarshalJSON encodes {"lsn":"0/16B3748","index":N,"complete":bool,"at":RFC3339}.
func (p Position) MarshalJSON() ([]byte, error) {
	return json.Marshal(positionJSON{LSN: p.LSN.String(), Index: p.Index, Complete: p.Complete, At: p.At.UTC().Format(time.RFC3339Nano)})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (p *Position) UnmarshalJSON(b []byte) error {
	var j positionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	lsn, err := pglogrepl.ParseLSN(j.LSN)
	if err != nil {
		return fmt.Errorf("position lsn %q: %w", j.LSN, err)
	}
	if j.Index < 0 {
		return fmt.Errorf("position index %d is negative", j.Index)
	}
	at, err := time.Parse(time.RFC3339Nano, j.At)
	if err != nil && j.At != "" {
		return fmt.Errorf("position at %q: %w", j.At, err)
	}
	*p = Position{LSN: lsn, Index: j.Index, Complete: j.Complete, At: at}
	return nil
}

func (p Position) String() string {
	return fmt.Sprintf("%s#%d", p.LSN, p.Index)
}
