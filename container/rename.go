package container

// Rename changes the container's name (its CRI metadata's); the pod layer
// keeps names unique. Its log path stays as it was.
func (c *Controller) Rename(id, name string) error {
	_, err := c.update(id, func(x *Container) { x.Config.Name = name })
	return err
}
