package monitorproto

import "time"

// Config is a monitor's command line: the daemon renders it with Args and
// the monitor reads it back with ParseArgs.
type Config struct {
	ID          string   // the container's ID in the runtime
	Bundle      string   // OCI bundle to create from; empty in exec mode
	Runtime     string   // OCI runtime binary
	RuntimeArgs []string // the runtime's global flags, before the verb
	Dir         string   // state directory: socket, exit record, pid file
	// RuntimeTimeout bounds each runtime verb the monitor runs; zero is
	// no bound.
	RuntimeTimeout time.Duration
	LogPath        string // CRI log file; empty for none
	OOMFile        string // cgroup file with an oom_kill counter
	Stdin          bool
	StdinOnce      bool
	TTY            bool
	// ConsoleSocket receives the exec'd process's terminal (exec mode).
	ConsoleSocket string
	// ExecProcess is the OCI process to run in a running container; set,
	// it puts the monitor in exec mode.
	ExecProcess string
	// RestoreImages is a checkpoint's CRIU images; set, the monitor does
	// not create the container but restores it from them at "start"
	// (`runtime restore`), with CRIU's log in RestoreWork.
	RestoreImages string
	RestoreWork   string
}

// Flag names. Bool flags take no value.
const (
	flagID            = "-id"
	flagBundle        = "-bundle"
	flagRuntime       = "-runtime"
	flagRuntimeArg    = "-runtime-arg"
	flagDir           = "-dir"
	flagLog           = "-log"
	flagOOMFile       = "-oom-file"
	flagConsoleSocket = "-console-socket"
	flagExec          = "-exec"
	flagStdin         = "-stdin"
	flagStdinOnce     = "-stdin-once"
	flagTTY           = "-tty"
	flagTimeout       = "-runtime-timeout"
	flagRestore       = "-restore"
	flagRestoreWork   = "-restore-work"
)

func (c *Config) strings() []struct {
	flag string
	v    *string
} {
	return []struct {
		flag string
		v    *string
	}{
		{flagID, &c.ID}, {flagBundle, &c.Bundle}, {flagRuntime, &c.Runtime}, {flagDir, &c.Dir},
		{flagLog, &c.LogPath}, {flagOOMFile, &c.OOMFile}, {flagConsoleSocket, &c.ConsoleSocket},
		{flagExec, &c.ExecProcess}, {flagRestore, &c.RestoreImages}, {flagRestoreWork, &c.RestoreWork},
	}
}

func (c *Config) bools() []struct {
	flag string
	v    *bool
} {
	return []struct {
		flag string
		v    *bool
	}{{flagStdin, &c.Stdin}, {flagStdinOnce, &c.StdinOnce}, {flagTTY, &c.TTY}}
}

// Args renders c as the monitor's arguments, in a fixed order.
func (c Config) Args() []string {
	var args []string
	for _, s := range c.strings() {
		if *s.v != "" {
			args = append(args, s.flag, *s.v)
		}
	}
	for _, a := range c.RuntimeArgs {
		args = append(args, flagRuntimeArg, a)
	}
	if c.RuntimeTimeout != 0 {
		args = append(args, flagTimeout, c.RuntimeTimeout.String())
	}
	for _, b := range c.bools() {
		if *b.v {
			args = append(args, b.flag)
		}
	}
	return args
}

// ParseArgs reads the monitor's arguments and checks that the mode's
// required ones are there.
func ParseArgs(args []string) (*Config, error) {
	c := &Config{}
	strs, bools := c.strings(), c.bools()
next:
	for i := 0; i < len(args); i++ {
		a := args[i]
		for _, b := range bools {
			if a == b.flag {
				*b.v = true
				continue next
			}
		}
		if i+1 >= len(args) {
			return nil, &Error{Class: ClassInvalid, Message: "flag " + a + " needs a value"}
		}
		i++
		switch a {
		case flagRuntimeArg:
			c.RuntimeArgs = append(c.RuntimeArgs, args[i])
			continue
		case flagTimeout:
			d, err := time.ParseDuration(args[i])
			if err != nil || d < 0 {
				return nil, &Error{Class: ClassInvalid, Message: "bad " + flagTimeout + " " + args[i]}
			}
			c.RuntimeTimeout = d
			continue
		}
		for _, s := range strs {
			if a == s.flag {
				*s.v = args[i]
				continue next
			}
		}
		return nil, &Error{Class: ClassInvalid, Message: "unknown flag " + a}
	}
	if c.ID == "" || c.Runtime == "" || c.Dir == "" || (c.ExecProcess == "" && c.Bundle == "") {
		return nil, &Error{Class: ClassInvalid, Message: "usage: criserver-monitor -id ID -runtime PATH -dir DIR (-bundle DIR | -exec PROCESS.json) [flags]"}
	}
	return c, nil
}
