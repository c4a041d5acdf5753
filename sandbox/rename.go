package sandbox

// Rename changes the sandbox's name (its CRI metadata's); the pod layer
// keeps names unique. Its hostname and log directory stay as they were.
func (c *Controller) Rename(id, name string) error {
	return c.update(id, func(s *Sandbox) { s.Config.Name = name })
}
