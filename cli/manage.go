package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Docker's management commands group subcommands by the object they act
// on; criserver's container and image groups carry the top-level commands
// again under Docker's names for them (container ls is ps).

func containerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers", Args: cobra.NoArgs}
	cmd.AddCommand(renamed(psCommand(), "ls", "ps", "list"), renamed(rmCommand(), "rm", "remove"),
		renamed(inspectCommand(), "inspect"), containerPruneCommand())
	return cmd
}

func imageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images", Args: cobra.NoArgs}
	img := imageCommands() // pull, images, rmi
	cmd.AddCommand(img[0], renamed(img[1], "ls", "list"), renamed(img[2], "rm", "remove"),
		renamed(inspectCommand(), "inspect"), imagePruneCommand())
	return cmd
}

func systemCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage criserver", Args: cobra.NoArgs}
	cmd.AddCommand(systemDfCommand(), systemPruneCommand(), eventsCommand(), infoCommand())
	return cmd
}

// renamed gives a command another name (the first word of its usage) and
// aliases.
func renamed(cmd *cobra.Command, name string, aliases ...string) *cobra.Command {
	_, rest, _ := strings.Cut(cmd.Use, " ")
	cmd.Use = strings.TrimSpace(name + " " + rest)
	cmd.Aliases = aliases
	return cmd
}

// Help groups, as Docker's help lists its commands.
const (
	groupCommon     = "common"
	groupManagement = "management"
	groupOther      = "commands"
)

var (
	commonCommands     = []string{"run", "exec", "ps", "pull", "push", "images", "login", "logout", "version", "info"}
	managementCommands = []string{"builder", "container", "image", "system", "volume"}
)

// groupCommands puts each of root's commands in Docker's help group; one
// not named there (serve, completion, help) is under Commands.
func groupCommands(root *cobra.Command) {
	root.AddGroup(&cobra.Group{ID: groupCommon, Title: "Common Commands:"},
		&cobra.Group{ID: groupManagement, Title: "Management Commands:"},
		&cobra.Group{ID: groupOther, Title: "Commands:"})
	root.SetHelpCommandGroupID(groupOther)
	root.SetCompletionCommandGroupID(groupOther)
	for _, c := range root.Commands() {
		switch {
		case c.GroupID != "":
		case slices.Contains(commonCommands, c.Name()):
			c.GroupID = groupCommon
		case slices.Contains(managementCommands, c.Name()):
			c.GroupID = groupManagement
		default:
			c.GroupID = groupOther
		}
	}
}
