# Policies of the cluster add-ons that call AWS: the cluster autoscaler and the AWS Load Balancer Controller
# (deploy/argocd/addons). Their roles are in main.tf (aws_iam_role.irsa), trusted by their service accounts in
# kube-system only.

# The cluster autoscaler reads every Auto Scaling group and instance type, and changes only the groups EKS
# tagged as this cluster's (managed node groups carry k8s.io/cluster-autoscaler/<cluster> = owned).
resource "aws_iam_role_policy" "cluster_autoscaler" {
  name = "resize-node-groups"
  role = aws_iam_role.irsa["cluster-autoscaler"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "Discover"
        Effect = "Allow"
        Action = [
          "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
        ]
        Resource = "*"
      },
      {
        Sid      = "DescribeOwnNodeGroups"
        Effect   = "Allow"
        Action   = ["eks:DescribeNodegroup"]
        Resource = "arn:aws:eks:${var.region}:${var.account_id}:nodegroup/${var.cluster_name}/*/*"
      },
      {
        # EKS names the Auto Scaling groups of managed node groups eks-<node group>-<id>.
        Sid      = "ResizeOwnGroups"
        Effect   = "Allow"
        Action   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
        Resource = "arn:aws:autoscaling:${var.region}:${var.account_id}:autoScalingGroup:*:autoScalingGroupName/eks-*"
        Condition = {
          StringEquals = { "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned" }
        }
      },
    ]
  })
}

# The load balancer controller (v2.13, the version pinned in deploy/argocd/addons): it reads the network and
# certificates, creates load balancers, target groups and security groups tagged with the cluster, and changes
# or deletes only what carries that tag. Describe and Get calls have no resource-level permissions.
locals {
  lbc_cluster_tagged = {
    Null = { "aws:ResourceTag/elbv2.k8s.aws/cluster" = "false" }
  }
  lbc_request_tagged = {
    Null = { "aws:RequestTag/elbv2.k8s.aws/cluster" = "false" }
  }
}

resource "aws_iam_role_policy" "load_balancer_controller" {
  name = "manage-load-balancers"
  role = aws_iam_role.irsa["aws-load-balancer-controller"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ServiceLinkedRole"
        Effect   = "Allow"
        Action   = ["iam:CreateServiceLinkedRole"]
        Resource = "*"
        Condition = {
          StringEquals = { "iam:AWSServiceName" = "elasticloadbalancing.amazonaws.com" }
        }
      },
      {
        Sid    = "Read"
        Effect = "Allow"
        Action = [
          "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
          "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
          "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
          "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:DescribeRouteTables", "ec2:DescribeIpamPools",
          "ec2:DescribeCoipPools", "ec2:GetCoipPoolUsage", "ec2:GetSecurityGroupsForVpc",
          "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
          "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerAttributes",
          "elasticloadbalancing:DescribeListenerCertificates", "elasticloadbalancing:DescribeSSLPolicies",
          "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
          "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth",
          "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTrustStores",
          "elasticloadbalancing:DescribeCapacityReservation",
          "acm:ListCertificates", "acm:DescribeCertificate", "iam:ListServerCertificates",
          "iam:GetServerCertificate", "cognito-idp:DescribeUserPoolClient", "wafv2:GetWebACL",
          "wafv2:GetWebACLForResource", "waf-regional:GetWebACL", "waf-regional:GetWebACLForResource",
          "shield:GetSubscriptionState", "shield:DescribeProtection",
        ]
        Resource = "*"
      },
      {
        Sid      = "CreateTaggedSecurityGroups"
        Effect   = "Allow"
        Action   = ["ec2:CreateSecurityGroup"]
        Resource = "*"
      },
      {
        Sid       = "TagOnCreate"
        Effect    = "Allow"
        Action    = ["ec2:CreateTags"]
        Resource  = "arn:aws:ec2:*:*:security-group/*"
        Condition = merge(local.lbc_request_tagged, { StringEquals = { "ec2:CreateAction" = "CreateSecurityGroup" } })
      },
      {
        Sid       = "ManageOwnSecurityGroups"
        Effect    = "Allow"
        Action    = ["ec2:CreateTags", "ec2:DeleteTags", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"]
        Resource  = "*"
        Condition = local.lbc_cluster_tagged
      },
      {
        # Rules on the nodes' security group let the ALB reach pods (target type ip).
        Sid      = "OpenNodeSecurityGroupToLoadBalancers"
        Effect   = "Allow"
        Action   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
        Resource = "*"
      },
      {
        Sid       = "CreateTaggedLoadBalancers"
        Effect    = "Allow"
        Action    = ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"]
        Resource  = "*"
        Condition = local.lbc_request_tagged
      },
      {
        Sid    = "ListenersAndRules"
        Effect = "Allow"
        Action = [
          "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
          "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
          "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyListenerAttributes",
          "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
          "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetWebAcl",
        ]
        Resource = "*"
      },
      {
        Sid    = "TagOwnLoadBalancers"
        Effect = "Allow"
        Action = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
        Resource = [
          "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
          "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
          "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
          "arn:aws:elasticloadbalancing:*:*:listener/*/*/*/*",
          "arn:aws:elasticloadbalancing:*:*:listener-rule/*/*/*/*/*",
        ]
      },
      {
        Sid    = "ManageOwnLoadBalancers"
        Effect = "Allow"
        Action = [
          "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
          "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
          "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
          "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
          "elasticloadbalancing:ModifyCapacityReservation", "elasticloadbalancing:ModifyIpPools",
        ]
        Resource  = "*"
        Condition = local.lbc_cluster_tagged
      },
      {
        Sid      = "RegisterPods"
        Effect   = "Allow"
        Action   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
        Resource = "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"
      },
      {
        Sid    = "WafAndShieldOnOwnLoadBalancers"
        Effect = "Allow"
        Action = [
          "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "waf-regional:AssociateWebACL",
          "waf-regional:DisassociateWebACL", "shield:CreateProtection", "shield:DeleteProtection",
        ]
        Resource = "*"
      },
    ]
  })
}
