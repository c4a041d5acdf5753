package container

// The containers' bbolt schema (internal/metadata.Records):
//
//	containers/
//	├── version        -> "1"
//	└── items/
//	    └── <id>       -> Container, JSON
const (
	recordsBucket = "containers"
	schemaVersion = "1"
)

func (c *Controller) save(x *Container) error { return c.records.Put(x.ID, x) }

func (c *Controller) deleteRecord(id string) error { return c.records.Delete(id) }

func (c *Controller) load() ([]*Container, error) { return c.records.All() }
