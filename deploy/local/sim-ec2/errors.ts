/** EC2 API errors with the codes and HTTP statuses the real service answers with. */

export const ERROR_STATUS = {
  "InvalidNetworkInterfaceID.NotFound": 400,
  "InvalidNetworkInterfaceID.Malformed": 400,
  "InvalidSubnetID.NotFound": 400,
  "InvalidSubnetID.Malformed": 400,
  "InvalidSubnet.Conflict": 400,
  "InvalidInstanceID.NotFound": 400,
  "InvalidInstanceID.Malformed": 400,
  "InvalidGroup.NotFound": 400,
  "InvalidVpcID.NotFound": 400,
  "InvalidVpc.Range": 400,
  "InvalidVpcCidrBlockAssociationId.NotFound": 400,
  "OperationNotPermitted": 400,
  "InvalidAttachmentID.NotFound": 400,
  "InvalidInstanceType": 400,
  "InvalidID": 400,
  "InvalidAction": 400,
  "InvalidParameterValue": 400,
  "InvalidParameterCombination": 400,
  "InvalidNextToken": 400,
  "MissingParameter": 400,
  "UnsupportedOperation": 400,
  "PrivateIpAddressLimitExceeded": 400,
  "InsufficientFreeAddressesInSubnet": 400,
  "InsufficientCidrBlocks": 400,
  "AttachmentLimitExceeded": 400,
  "InvalidIPAddress.InUse": 400,
  "InvalidNetworkInterface.InUse": 400,
  "InvalidAssociationID.NotFound": 400,
  "InvalidPermission.Duplicate": 400,
  "InvalidPermission.NotFound": 400,
  "InvalidGroup.Duplicate": 400,
  "InvalidGroup.Reserved": 400,
  "InvalidGroupId.Malformed": 400,
  "CannotDelete": 400,
  "DependencyViolation": 400,
  "IncorrectState": 400,
  "RequestLimitExceeded": 503,
  "UnauthorizedOperation": 403,
  "InternalError": 500,
  "ServiceUnavailable": 503,
  "Unavailable": 503,
} as const;

export type Ec2ErrorCode = keyof typeof ERROR_STATUS;

export class Ec2Error extends Error {
  readonly status: number;
  constructor(
    readonly code: Ec2ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = code;
    this.status = ERROR_STATUS[code];
  }
}

export const notFoundEni = (id: string) =>
  new Ec2Error("InvalidNetworkInterfaceID.NotFound", `The networkInterface ID '${id}' does not exist`);
export const notFoundSubnet = (id: string) =>
  new Ec2Error("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
export const notFoundInstance = (id: string) =>
  new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
export const missing = (param: string) =>
  new Ec2Error("MissingParameter", `The request must contain the parameter ${param}`);
export const invalid = (message: string) => new Ec2Error("InvalidParameterValue", message);
export const ipLimit = () =>
  new Ec2Error("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
export const subnetFull = () =>
  new Ec2Error(
    "InsufficientFreeAddressesInSubnet",
    "The specified subnet does not have enough free addresses to satisfy the request.",
  );
export const noCidrBlocks = () =>
  new Ec2Error(
    "InsufficientCidrBlocks",
    "The specified subnet does not have enough free cidr blocks to satisfy the request.",
  );
