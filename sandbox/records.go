package sandbox

// The sandboxes' bbolt schema (internal/metadata.Records):
//
//	sandboxes/
//	├── version        -> "1"
//	└── items/
//	    └── <id>       -> Sandbox, JSON
const (
	recordsBucket = "sandboxes"
	schemaVersion = "1"
)

func (c *Controller) save(s *Sandbox) error { return c.records.Put(s.ID, s) }

func (c *Controller) deleteRecord(id string) error { return c.records.Delete(id) }

func (c *Controller) load() ([]*Sandbox, error) { return c.records.All() }
