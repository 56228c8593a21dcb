// Package deploy holds what runs Backhaul in production: the Kubernetes
// manifests of deploy/kubernetes (a kustomize base, the dev, production and
// production-keda overlays, the KEDA component, the migrations Job, and the
// cluster-wide Cluster Autoscaler and Prometheus Adapter rules) and the EKS
// cluster and node groups of deploy/terraform. The image is built by the
// Dockerfile at the repository root.
//
// The package has no code of its own; its tests validate the files offline:
//
//   - dockerfile_test.go: the Dockerfile's stages, static build, version
//     stamp and non-root user, by building the binary with its command;
//   - manifests_test.go: every rendered object decodes strictly into its
//     k8s.io/api type; Deployments, Services, PDBs, resources by the guide's
//     service type; HPAs and KEDA ScaledObjects field by field against
//     internal/autoscale.GuideSpecs; the settings are real flags;
//   - guide_test.go: the same against the scaling guide's own code blocks;
//   - adapter_test.go: the Prometheus Adapter rules and the Cluster
//     Autoscaler's arguments;
//   - terraform_test.go: the node groups, parsed with HCL;
//   - metrics_test.go: each scaled target, running, exports the series its
//     HPA reads;
//   - pipeline_test.go: Prometheus scraping running processes under load,
//     the adapter rules evaluated as the adapter renders them;
//   - kustomize_test.go: the kustomize subset the manifests use.
package deploy
