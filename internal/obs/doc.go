// Package obs is what the daemon tells operators about itself: Prometheus
// metrics and OpenTelemetry traces of CRI calls and of the work under them
// (pulls, layer unpacks, CNI, runtime verbs, monitors).
//
// Packages record through an *Obs handed to them at wiring; a nil *Obs
// records nothing and costs a nil check, which is how the daemon runs with
// both off (the default). Each operation is one call, Start, that times it
// into a histogram, counts its failure and opens a child span, so metrics
// and traces cannot disagree about what was measured.
package obs
