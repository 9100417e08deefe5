// Drives a fakeswitch with the third-party Node ESL client modesl:
// api status, bgapi, events, originate; expects CHANNEL_ANSWER and
// CHANNEL_HANGUP_COMPLETE. Usage: node check.js host port password
'use strict';
const esl = require('modesl');
const [host, port, password] = process.argv.slice(2);

function fail(msg) {
  console.error('modesl check FAILED: ' + msg);
  process.exit(1);
}
const timer = setTimeout(() => fail('timeout after 10s'), 10000);

const conn = new esl.Connection(host, Number(port), password, () => {
  conn.api('status', (res) => {
    const body = res.getBody();
    if (!/^UP /.test(body)) fail('api status: ' + JSON.stringify(body));
    console.log('ok api status');
    conn.bgapi('version', (res) => {
      const body = res.getBody();
      if (!/^FreeSWITCH Version/.test(body)) fail('bgapi version: ' + JSON.stringify(body));
      console.log('ok bgapi version');
      conn.events('plain', 'ALL', () => {
        const uuid = '5d9ab1c4-0000-4000-8000-000000000001';
        let answered = false;
        conn.on('esl::event::CHANNEL_ANSWER::' + uuid, () => {
          answered = true;
          console.log('ok CHANNEL_ANSWER');
          conn.api('uuid_kill ' + uuid + ' USER_BUSY', () => {});
        });
        conn.on('esl::event::CHANNEL_HANGUP_COMPLETE::' + uuid, (e) => {
          if (!answered) fail('HANGUP_COMPLETE before ANSWER');
          const cause = e.getHeader('Hangup-Cause');
          if (cause !== 'USER_BUSY') fail('Hangup-Cause ' + cause);
          console.log('ok CHANNEL_HANGUP_COMPLETE ' + cause);
          clearTimeout(timer);
          conn.disconnect();
          process.exit(0);
        });
        conn.api('originate {origination_uuid=' + uuid + '}user/1000 &park()', (res) => {
          if (res.getBody() !== '+OK ' + uuid + '\n') fail('originate: ' + JSON.stringify(res.getBody()));
          console.log('ok originate');
        });
      });
    });
  });
});
conn.on('error', (err) => fail('connection error: ' + err));
