// A gRPC client for the runner's local API written without any of the runner's code: it loads
// proto/runner.proto at run time with @grpc/proto-loader and talks over the Unix socket with
// @grpc/grpc-js. It checks health, reads the status and the event feed, and asks server
// reflection which services exist. Prints one JSON object with what it saw; exits 1 on a
// failed call.
//
//   node client.js <socket> <runner.proto>
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [socketPath, runnerProto] = process.argv.slice(2);
if (!socketPath || !runnerProto) {
  console.error('usage: node client.js <socket> <runner.proto>');
  process.exit(2);
}

const loadOptions = {keepCase: false, longs: String, enums: String, defaults: true, oneofs: true};
const runnerPackage = grpc.loadPackageDefinition(protoLoader.loadSync(runnerProto, loadOptions));
const healthPackage = grpc.loadPackageDefinition(
    protoLoader.loadSync(path.join(__dirname, 'health.proto'), loadOptions));
const reflectionProto = path.join(
    path.dirname(require.resolve('@grpc/reflection/package.json')),
    'build/proto/grpc/reflection/v1alpha/reflection.proto');
const reflectionPackage =
    grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, loadOptions));

const target = 'unix:' + socketPath;
const credentials = grpc.credentials.createInsecure();
const deadline = () => new Date(Date.now() + 10000);

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, {deadline: deadline()}, (error, response) => {
      if (error) reject(new Error(`${method}: ${error.code} ${error.details}`));
      else resolve(response);
    });
  });
}

function readEvents(client) {
  return new Promise((resolve, reject) => {
    const events = [];
    const call = client.WatchEvents({follow: false}, {deadline: deadline()});
    call.on('data', (event) => events.push(event));
    call.on('error', (error) => reject(new Error(`WatchEvents: ${error.code} ${error.details}`)));
    call.on('end', () => resolve(events));
  });
}

function listServices(client) {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo({deadline: deadline()});
    call.on('data', (response) => {
      if (response.listServicesResponse) {
        resolve(response.listServicesResponse.service.map((s) => s.name).sort());
      } else if (response.errorResponse) {
        reject(new Error(`reflection: ${response.errorResponse.errorMessage}`));
      }
      call.end();
    });
    call.on('error', (error) => reject(new Error(`reflection: ${error.code} ${error.details}`)));
    call.write({listServices: ''});
  });
}

function fileContainingSymbol(client, symbol) {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo({deadline: deadline()});
    call.on('data', (response) => {
      if (response.fileDescriptorResponse) {
        resolve(response.fileDescriptorResponse.fileDescriptorProto.length);
      } else {
        reject(new Error(`reflection: no descriptor for ${symbol}`));
      }
      call.end();
    });
    call.on('error', (error) => reject(new Error(`reflection: ${error.code} ${error.details}`)));
    call.write({fileContainingSymbol: symbol});
  });
}

async function main() {
  const runner = new runnerPackage.workerrunner.v1.Runner(target, credentials);
  const health = new healthPackage.grpc.health.v1.Health(target, credentials);
  const reflection =
      new reflectionPackage.grpc.reflection.v1alpha.ServerReflection(target, credentials);

  const healthResponse = await unary(health, 'Check', {service: ''});
  const status = await unary(runner, 'GetStatus', {});
  const events = await readEvents(runner);
  const services = await listServices(reflection);
  const descriptors = await fileContainingSymbol(reflection, 'workerrunner.v1.Runner');

  console.log(JSON.stringify({
    health: healthResponse.status,
    status: {state: status.state, workerId: status.workerId, workerPid: status.workerPid},
    events: events.map((e) => ({sequence: e.sequence, kind: e.kind})),
    services,
    runnerDescriptors: descriptors,
  }));
  runner.close();
  health.close();
  reflection.close();
}

main().catch((error) => {
  console.error(`grpc client: ${error.message}`);
  process.exit(1);
});
