output "cluster_name" {
  value = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  value = aws_eks_cluster.this.endpoint
}

output "cluster_autoscaler_role_arn" {
  description = "Annotate the cluster-autoscaler service account with it (eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.cluster_autoscaler.arn
}

output "node_groups" {
  value = { for k, g in aws_eks_node_group.this : k => g.status }
}
