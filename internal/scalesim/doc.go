// Package scalesim replays traffic through the platform's autoscalers to
// show, before a change reaches a cluster, how many replicas and nodes each
// service would run, how long requests would wait, and what it would cost.
//
// A run steps a simulated clock (no wall-clock time is read) through a
// scenario's load curve. Every HPA sync period each service's
// HorizontalPodAutoscaler (internal/autoscale, the upstream algorithm) reads
// its metrics as the pipeline would deliver them, late by the scrape interval
// and averaged over the adapter's rate window; new pods wait for room on a
// node, and for a node from the cluster autoscaler when there is none, then
// for their start-up. Each service is a queue: pods are M/M/c servers whose
// speed comes from the platform's measured benchmarks, with a fluid backlog
// when the load outruns them. Costs come from the node groups' instance
// prices.
//
// With Predictive set, a forecast of each service's load from its history
// (package forecast) raises the HPA's minimum ahead of the peaks it expects.
package scalesim
