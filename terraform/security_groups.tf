# One security group per role, opened edge by edge from local.callers (locals.tf), so a role
# accepts only the roles that call it and calls only the roles it needs:
#
#   clients ─443─▶ ALB ─8000─▶ gateway ─7100─▶ log ◀─7100─ query, compactor
#                                  └────7200─▶ query
#   gateway, log, query, compactor ─5432─▶ catalog (RDS)
#
# Egress: besides those edges, every role may open HTTPS (443) anywhere. Through the S3
# gateway endpoint that is S3; through NAT it is the AWS APIs the instances use (Secrets
# Manager, SSM, Auto Scaling, STS), the https:// binary URL if one is configured, and the
# Amazon Linux package repositories used at boot. Those APIs have no fixed addresses, so the
# port is the narrowest rule a security group can express; VPC interface endpoints would
# narrow it further at about $7 per endpoint and zone each month. DNS, NTP and instance
# metadata go to link-local addresses that security groups do not filter.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Silt load balancer: HTTPS from allowed clients, to gateways only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from allowed clients"
  cidr_ipv4         = each.value
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each          = toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from allowed clients, answered only with a redirect to HTTPS"
  cidr_ipv4         = each.value
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_gateway" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Requests and /readyz health checks to gateways"
  referenced_security_group_id = aws_security_group.role["gateway"].id
  from_port                    = local.ports.gateway
  to_port                      = local.ports.gateway
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "role" {
  #checkov:skip=CKV2_AWS_5:Every one is attached, through aws_launch_template.node[role]; checkov's graph links only one for_each instance to the template.
  for_each    = local.ports
  name        = "${var.name}-${each.key}"
  description = "Silt ${each.key} nodes"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "gateway_from_alb" {
  security_group_id            = aws_security_group.role["gateway"].id
  description                  = "API requests and health checks from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = local.ports.gateway
  to_port                      = local.ports.gateway
  ip_protocol                  = "tcp"
}

locals {
  # Every (callee, caller) pair of local.callers, e.g. "log<-query".
  internal_edges = merge([
    for callee, callers in local.callers : {
      for caller in callers : "${callee}<-${caller}" => { callee = callee, caller = caller }
    }
  ]...)
}

resource "aws_vpc_security_group_ingress_rule" "internal" {
  for_each                     = local.internal_edges
  security_group_id            = aws_security_group.role[each.value.callee].id
  description                  = "Internal calls from ${each.value.caller} nodes"
  referenced_security_group_id = aws_security_group.role[each.value.caller].id
  from_port                    = local.ports[each.value.callee]
  to_port                      = local.ports[each.value.callee]
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "internal" {
  for_each                     = local.internal_edges
  security_group_id            = aws_security_group.role[each.value.caller].id
  description                  = "Internal calls to ${each.value.callee} nodes"
  referenced_security_group_id = aws_security_group.role[each.value.callee].id
  from_port                    = local.ports[each.value.callee]
  to_port                      = local.ports[each.value.callee]
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each          = local.ports
  security_group_id = aws_security_group.role[each.key].id
  description       = "HTTPS to S3 (gateway endpoint) and, through NAT, AWS APIs and the binary URL"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "to_catalog" {
  for_each                     = local.ports
  security_group_id            = aws_security_group.role[each.key].id
  description                  = "Catalog database"
  referenced_security_group_id = aws_security_group.catalog.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "catalog" {
  name        = "${var.name}-catalog"
  description = "Silt catalog database: Postgres from Silt nodes only"
  vpc_id      = aws_vpc.this.id
  # No egress rule: the database answers on connections it accepted and opens none.
}

resource "aws_vpc_security_group_ingress_rule" "catalog" {
  for_each                     = local.ports
  security_group_id            = aws_security_group.catalog.id
  description                  = "Postgres from ${each.key} nodes"
  referenced_security_group_id = aws_security_group.role[each.key].id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}
