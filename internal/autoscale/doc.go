// Package autoscale models the Kubernetes HorizontalPodAutoscaler (autoscaling/v2)
// as the upstream controller computes it, without talking to a cluster.
//
// A scaling simulator drives it like the controller's sync loop: every
// interval (Kubernetes uses 15 s) it measures each metric of the Spec for the
// current pods, calls Step with the simulated clock, the current replica count
// and those readings, and then sets the replica count to the returned value.
// Step assumes its answer is applied, because the scale-rate policies count
// the replicas it added or removed within each policy's period.
//
// The package imports only the standard library so that it can run anywhere,
// from a unit test to an offline capacity plan.
package autoscale
