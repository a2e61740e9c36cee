import { firstLine, withoutCredentials } from '../lib/messages';

describe('messages', () => {
  test('firstLine takes the first line of an error, a message, or something thrown', () => {
    expect(firstLine(new Error('bad input\n    at frame'))).toBe('bad input');
    expect(firstLine('one\ntwo')).toBe('one');
    expect(firstLine({ message: 'from an object\nrest' })).toBe('from an object');
    expect(firstLine(undefined)).toBe('unknown error');
    expect(firstLine(null)).toBe('unknown error');
    expect(firstLine(42)).toBe('42');
  });

  test('withoutCredentials hides a user and password but keeps the host', () => {
    expect(withoutCredentials('redis://user:secret@db.example:6379/2')).toBe('redis://***@db.example:6379/2');
    expect(withoutCredentials('redis://:pw@host')).toBe('redis://***@host');
    expect(withoutCredentials('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
