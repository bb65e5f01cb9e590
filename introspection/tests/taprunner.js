// A small TAP producer for the GJS binding tests.
import System from 'system';

export class TapRunner {
    constructor() {
        this._cases = [];
    }

    test(name, func) {
        this._cases.push({name, func});
    }

    equal(actual, expected, what = '') {
        if (actual !== expected)
            throw new Error(`${what} expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }

    ok(value, what = '') {
        if (!value)
            throw new Error(`${what} expected a true value, got ${JSON.stringify(value)}`);
    }

    run() {
        print(`1..${this._cases.length}`);
        let failed = 0;
        this._cases.forEach(({name, func}, index) => {
            try {
                func();
                print(`ok ${index + 1} - ${name}`);
            } catch (e) {
                failed++;
                print(`not ok ${index + 1} - ${name}`);
                for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
                    print(`# ${line}`);
            }
        });
        System.exit(failed ? 1 : 0);
    }
}
