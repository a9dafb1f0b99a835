import { hostname } from 'node:os';
import { fromText } from '../../src/system/bytes';
import { hostName } from '../../src/system/host-name';

test('the host name from /proc is the one uname(2) and node:os give', () => {
  expect(hostName()).toBe(fromText(hostname()));
});
