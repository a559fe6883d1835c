/** The settings merge (flags > SOCKSKIT_* > config file) and its typed errors, by import. */
import { expect } from 'chai';
import { loadSettings, loadConfigFile, parseConfigText, ConfigFileError, EnvError, UsageError, PROXY_OPTIONS, GATEWAY_OPTIONS } from '../../lib/service/index.js';
import { tempDir } from '../support/interop.js';

describe('service settings: flags > environment > config file', () => {
  const tmp = tempDir('sockskit-settings-');
  after(() => tmp.cleanup());

  it('each key comes from the strongest place that sets it, and says where', () => {
    const file = tmp.write('p.yaml', 'listen: [127.0.0.1:1, 127.0.0.1:2]\nmax-connections: 7\nidle-timeout: 5\nno-udp: true\n');
    const s = loadSettings(['--idle-timeout', '9', '--config', file], PROXY_OPTIONS, { SOCKSKIT_MAX_CONNECTIONS: '8' });
    expect(s.values).to.deep.include({ listen: ['127.0.0.1:1', '127.0.0.1:2'], 'max-connections': '8', 'idle-timeout': '9', 'no-udp': true, config: file });
    expect(s.from).to.deep.include({ listen: `${file}: listen`, 'max-connections': 'SOCKSKIT_MAX_CONNECTIONS', 'idle-timeout': '--idle-timeout' });
    expect(s.configFile).to.equal(file);
  });

  it('the environment splits lists on commas, secrets (--user) on newlines only; booleans are words', () => {
    const s = loadSettings([], PROXY_OPTIONS, { SOCKSKIT_ALLOW: '10.0.0.0/8, 192.168.0.0/16', SOCKSKIT_USER: 'a:p,w\nb:q', SOCKSKIT_NO_BIND: 'yes' });
    expect(s.values.allow).to.deep.equal(['10.0.0.0/8', '192.168.0.0/16']);
    expect(s.values.user).to.deep.equal(['a:p,w', 'b:q']);
    expect(s.values['no-bind']).to.equal(true);
  });

  const thrown = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error('expected an error');
  };

  it('typed errors name the variable, the file line or the flag', () => {
    const envErr = thrown(() => loadSettings([], PROXY_OPTIONS, { SOCKSKIT_NO_BIND: 'maybe' }));
    expect(envErr).to.be.instanceOf(EnvError).and.instanceOf(UsageError);
    expect((envErr as EnvError).variable).to.equal('SOCKSKIT_NO_BIND');
    expect((envErr as Error).message).to.equal('SOCKSKIT_NO_BIND: expected true or false, got "maybe"');
    const file = tmp.write('bad.yaml', 'listen: 127.0.0.1:1\nmax-conections: 5\n');
    const fileErr = thrown(() => loadSettings(['--config', file], PROXY_OPTIONS, {})) as ConfigFileError;
    expect(fileErr).to.be.instanceOf(ConfigFileError);
    expect([fileErr.file, fileErr.line, fileErr.message]).to.deep.equal([file, 2, `${file} line 2: max-conections: unknown key`]);
    const flagOnly = tmp.write('flag-only.yaml', 'check: true\n');
    expect(() => loadSettings(['--config', flagOnly], PROXY_OPTIONS, {})).to.throw(ConfigFileError, 'check: unknown key (command line only)');
    expect(() => loadSettings(['--bogus'], PROXY_OPTIONS, {})).to.throw(UsageError, /bogus/);
    expect(() => loadSettings(['--config', tmp.write('t.yaml', 'no-udp: yes please\n')], PROXY_OPTIONS, {})).to.throw(ConfigFileError, /line 1: no-udp: expected true or false/);
    expect(() => loadSettings(['--config', tmp.write('l.yaml', 'listen: [a, [b]]\n')], GATEWAY_OPTIONS, {})).to.throw(ConfigFileError, /listen: expected a string or number, got a list/);
  });

  it('an unknown SOCKSKIT_* variable is reported, the test suite\'s own and SOCKSKIT_CONFIG are not', () => {
    const s = loadSettings([], PROXY_OPTIONS, { SOCKSKIT_MAX_CONECTIONS: '5', SOCKSKIT_SEED: '1', SOCKSKIT_CONFIG: '' });
    expect(s.unknownEnv).to.deep.equal(['SOCKSKIT_MAX_CONECTIONS']);
  });

  it('loadConfigFile: entries in file order with their lines; YAML errors and a missing file are one line', () => {
    const f = tmp.write('ok.yaml', '# a comment\nlisten: 127.0.0.1:1\nrules:\n  - action: pass\n');
    expect(loadConfigFile(f)).to.deep.equal([{ key: 'listen', line: 2, value: '127.0.0.1:1' }, { key: 'rules', line: 3, value: [{ action: 'pass' }] }]);
    expect(parseConfigText('empty.yaml', '')).to.deep.equal([]);
    expect(() => parseConfigText('dup.yaml', 'a: 1\na: 2\n')).to.throw(ConfigFileError, /^dup\.yaml line 2: /);
    expect(() => parseConfigText('list.yaml', '- a\n')).to.throw(ConfigFileError, 'list.yaml: expected a mapping of option names to values');
    expect(() => loadConfigFile(`${tmp.dir}/missing.yaml`)).to.throw(UsageError, /^cannot read --config file .*missing\.yaml: no such file$/);
  });
});
