// Express 4 is installed under the npm alias `express4` to test the adapter against both majors; its API
// is typed with Express 5's declarations, which cover everything the tests use.
declare module 'express4' {
  import express from 'express';
  export default express;
}
