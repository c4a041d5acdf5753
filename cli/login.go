package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
)

func loginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]",
		Short: "Log in to a registry (Docker Hub when no server is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := registryKey(server)
			user, pass, err := loginCredentials(cmd)
			if err != nil {
				return err
			}
			dir, err := dockerConfigDir()
			if err != nil {
				return err
			}
			cfg, err := loadDockerConfig(dir)
			if err != nil {
				return err
			}
			in, err := api.Encode(api.LoginRequest{Server: registryHost(key), Auth: api.Auth{Username: user, Password: pass}})
			if err != nil {
				return err
			}
			if err := c.conn.Invoke(cmd.Context(), api.LoginMethod, in, new(structpb.Struct)); err != nil {
				return callError(err)
			}
			if cfg.helper(key) == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING! Your credentials are stored unencrypted in '%s'.\n"+
					"Configure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n", cfg.path)
			}
			if err := cfg.store(key, user, pass); err != nil {
				return fmt.Errorf("storing the credentials: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		}),
	}
	cmd.Flags().StringP("username", "u", "", "user name")
	cmd.Flags().StringP("password", "p", "", "password or token (prefer --password-stdin)")
	cmd.Flags().Bool("password-stdin", false, "read the password or token from stdin")
	return cmd
}

// loginCredentials takes the user and password from the flags, stdin or,
// on a terminal, prompts, with Docker's messages.
func loginCredentials(cmd *cobra.Command) (string, string, error) {
	user, _ := cmd.Flags().GetString("username")
	pass, _ := cmd.Flags().GetString("password")
	fromStdin, _ := cmd.Flags().GetBool("password-stdin")
	if fromStdin {
		if pass != "" {
			return "", "", errors.New("--password and --password-stdin are mutually exclusive")
		}
		if user == "" {
			return "", "", errors.New("must provide --username with --password-stdin")
		}
		raw, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return "", "", err
		}
		pass = strings.TrimRight(string(raw), "\r\n")
	} else if pass != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	tty := term.IsTerminal(int(os.Stdin.Fd()))
	if user == "" {
		if !tty {
			return "", "", errors.New("cannot perform an interactive login from a non TTY device")
		}
		fmt.Fprint(cmd.OutOrStdout(), "Username: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", "", err
		}
		user = strings.TrimSpace(line)
	}
	if pass == "" {
		if !tty {
			return "", "", errors.New("cannot perform an interactive login from a non TTY device")
		}
		fmt.Fprint(cmd.OutOrStdout(), "Password: ")
		raw, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(cmd.OutOrStdout())
		if err != nil {
			return "", "", err
		}
		pass = string(raw)
	}
	if user == "" || pass == "" {
		return "", "", errors.New("a user name and a password are needed")
	}
	return user, pass, nil
}

func logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Forget the credentials of a registry (Docker Hub when no server is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := registryKey(server)
			dir, err := dockerConfigDir()
			if err != nil {
				return err
			}
			cfg, err := loadDockerConfig(dir)
			if err != nil {
				return err
			}
			auths, err := cfg.auths()
			if err != nil {
				return err
			}
			if _, ok := auths[key]; !ok {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", key)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", key)
			_, err = cfg.erase(key)
			return err
		},
	}
}
