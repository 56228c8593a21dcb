variable "region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "EKS cluster name; the Cluster Autoscaler discovers node groups by it (scaling guide 6.1)."
  type        = string
  default     = "freight-platform-eks"
}

variable "kubernetes_version" {
  description = "Kubernetes version of the control plane and node groups."
  type        = string
  default     = "1.33"
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, at least two availability zones, for the control plane and the nodes."
  type        = list(string)
}
