package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func imageCommands() []*cobra.Command {
	pull := &cobra.Command{
		Use:   "pull IMAGE",
		Short: "Pull an image",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ref, err := c.pull(cmd.Context(), args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), ref)
			return nil
		}),
	}
	images := imagesCommand()
	rmi := &cobra.Command{
		Use:   "rmi IMAGE...",
		Short: "Remove images by name or ID",
		Args:  cobra.MinimumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			return eachArg(cmd, args, func(a string) error {
				st, err := c.img.ImageStatus(cmd.Context(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: a}})
				if err != nil {
					return callError(err)
				}
				if st.Image == nil {
					return fmt.Errorf("no such image: %s", a)
				}
				if _, err := c.img.RemoveImage(cmd.Context(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: a}}); err != nil {
					return callError(err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted:", st.Image.Id)
				return nil
			})
		}),
	}
	return []*cobra.Command{pull, images, rmi}
}

// splitTag splits "repo:tag". A colon before the last slash is a
// registry's port, not a tag's; a reference without a tag has <none>.
func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || i < strings.LastIndex(ref, "/") {
		return ref, "<none>"
	}
	return ref[:i], ref[i+1:]
}

func humanSize(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, u := float64(n), "kMGT"
	i := -1
	for f >= unit && i < len(u)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f%cB", f, u[i])
}
