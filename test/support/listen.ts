import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on a free port on 127.0.0.1 and returns the port; a bind error rejects. */
export const listenOnLoopback = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
};
