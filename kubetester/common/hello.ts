/**
 * The Hello service from hello.proto, loaded at run time with @grpc/proto-loader (no generated code
 * to keep in step): the service definition for servers and a client constructor for the gateway.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { helloProtoPath } from './service.js';

/** HelloRequest as proto-loader decodes it (defaults filled in). */
export interface HelloRequest {
  name: string;
}

/** HelloReply as proto-loader decodes it (defaults filled in). */
export interface HelloReply {
  name: string;
  version: string;
  hostname: string;
}

/** The client the gateway calls: one unary method, callback style. */
export interface HelloClient extends grpc.Client {
  SayHello(
    req: HelloRequest,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, reply?: HelloReply) => void,
  ): grpc.ClientUnaryCall;
}

interface HelloPackage {
  service: grpc.ServiceDefinition;
  new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions): HelloClient;
}

let loaded: HelloPackage | undefined;

/** Loads hello.proto once; returns the hello.Hello service constructor (with `.service`). */
export function helloService(): HelloPackage {
  if (!loaded) {
    const def = protoLoader.loadSync(helloProtoPath(), { keepCase: true, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { hello: { Hello: HelloPackage } };
    loaded = pkg.hello.Hello;
  }
  return loaded;
}
