# The EKS cluster and the managed node groups of the scaling guide (6.2). The
# Cluster Autoscaler (deploy/kubernetes/cluster) resizes the groups between
# min_size and max_size; desired_size is only the starting point, so later
# applies leave it alone (ignore_changes).

locals {
  # The scaling guide's node groups, as written there. Pods choose a group by
  # the role label (nodeSelector role: ... in deploy/kubernetes/base).
  node_groups = {
    system = {
      instance_types = ["m6i.large"]
      desired_size   = 3
      min_size       = 3
      max_size       = 6
      labels = {
        role = "system"
      }
      taints = []
      tags = {
        "k8s.io/cluster-autoscaler/enabled" = "true"
      }
    },
    application = {
      instance_types = ["c6i.2xlarge"]
      desired_size   = 4
      min_size       = 4
      max_size       = 20
      labels = {
        role = "application"
      }
      taints = []
      tags = {
        "k8s.io/cluster-autoscaler/enabled" = "true"
      }
    },
    data_processing = {
      instance_types = ["r6i.2xlarge"]
      desired_size   = 2
      min_size       = 2
      max_size       = 10
      labels = {
        role = "data-processing"
      }
      taints = []
      tags = {
        "k8s.io/cluster-autoscaler/enabled" = "true"
      }
    },
    ml_inference = {
      instance_types = ["g5.xlarge"]
      desired_size   = 1
      min_size       = 1
      max_size       = 5
      labels = {
        role = "ml-inference"
      }
      # Our addition to the guide: GPU nodes take only pods that tolerate
      # this (market-intelligence), so general pods never land there.
      taints = [
        {
          key    = "dedicated"
          value  = "ml-inference"
          effect = "NO_SCHEDULE"
        }
      ]
      tags = {
        "k8s.io/cluster-autoscaler/enabled" = "true"
      }
    }
  }

  # GPU instances need the EKS accelerated AMI.
  ami_types = {
    ml_inference = "AL2023_x86_64_NVIDIA"
  }
}

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.cluster_name}-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_eks_cluster" "this" {
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids = var.subnet_ids
  }

  depends_on = [aws_iam_role_policy_attachment.cluster]
}

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.cluster_name}-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  ])
  role       = aws_iam_role.node.name
  policy_arn = each.value
}

resource "aws_eks_node_group" "this" {
  for_each = local.node_groups

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = replace(each.key, "_", "-")
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  instance_types  = each.value.instance_types
  ami_type        = lookup(local.ami_types, each.key, "AL2023_x86_64_STANDARD")
  labels          = each.value.labels

  # The guide's tags. EKS also puts the auto-discovery tags on each managed
  # group's Auto Scaling group itself, where the Cluster Autoscaler looks.
  tags = merge(each.value.tags, {
    "k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned"
  })

  scaling_config {
    desired_size = each.value.desired_size
    min_size     = each.value.min_size
    max_size     = each.value.max_size
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}

# The Cluster Autoscaler's IAM role, assumed by its service account (IRSA).
data "tls_certificate" "oidc" {
  url = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

resource "aws_iam_openid_connect_provider" "this" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.oidc.certificates[0].sha1_fingerprint]
}

data "aws_iam_policy_document" "autoscaler_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${replace(aws_iam_openid_connect_provider.this.url, "https://", "")}:sub"
      values   = ["system:serviceaccount:kube-system:cluster-autoscaler"]
    }
  }
}

resource "aws_iam_role" "cluster_autoscaler" {
  name               = "${var.cluster_name}-cluster-autoscaler"
  assume_role_policy = data.aws_iam_policy_document.autoscaler_assume.json
}

data "aws_iam_policy_document" "cluster_autoscaler" {
  statement {
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
      "eks:DescribeNodegroup",
    ]
    resources = ["*"]
  }
  statement {
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}"
      values   = ["owned"]
    }
  }
}

resource "aws_iam_role_policy" "cluster_autoscaler" {
  name   = "cluster-autoscaler"
  role   = aws_iam_role.cluster_autoscaler.id
  policy = data.aws_iam_policy_document.cluster_autoscaler.json
}
