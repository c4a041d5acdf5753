// Package monitor is the daemon's side of criserver-monitor, the process
// that creates, starts and watches one container (or one exec) and outlives
// the daemon. A Client starts monitors; a Handle talks to one by its state
// directory over the control protocol in internal/monitorproto.
package monitor
