/**
 * The traps a PyTorch user met following the README, as the errors now name them: a module's
 * class where an instance goes, images given to Conv1D. (The losses' argument order, the
 * optimisers' constructor and fit without await are in their own modules' tests.)
 */
import { Sequential, Linear, ReLU } from '../lib/nn';

test('a class given to Sequential is named, with the new that makes an instance, not printed as its source', () => {
  expect(() => new Sequential(new Linear(2, 2), ReLU as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 1, got the class ReLU; write new ReLU() to add one'),
  );
  expect(() => new Sequential(Linear as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 0, got the class Linear; write new Linear(…) to add one'),
  );
  expect(() => new Sequential().add(ReLU as never)).toThrow(/got the class ReLU; write new ReLU\(\) to add one$/);
  // A function that is not a module's class is named as a function, with no advice.
  expect(() => new Sequential((() => new ReLU()) as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 0, got a function'),
  );
  class NotAModule {}
  expect(() => new Sequential(NotAModule as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 0, got the class NotAModule'),
  );
  // With the instance it builds.
  expect(new Sequential(new Linear(2, 2), new ReLU()).modules).toHaveLength(2);
});
