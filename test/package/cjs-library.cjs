/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS consumer, on purpose */
// A CommonJS library between an application and nestjs-s3-lock: it require()s the package (and
// @nestjs/common) while the application imports them. Used by one-copy.mjs.
'use strict';
const { Injectable } = require('@nestjs/common');
const { WithS3Lock, currentS3Lock, S3LockService } = require('nestjs-s3-lock');

/** A provider whose method is locked through the require() side's decorator. */
class ReportJob {
  async run() {
    return currentS3Lock();
  }
}
const descriptor = Object.getOwnPropertyDescriptor(ReportJob.prototype, 'run');
Object.defineProperty(ReportJob.prototype, 'run', WithS3Lock('report-job')(ReportJob.prototype, 'run', descriptor) ?? descriptor);
Injectable()(ReportJob);

module.exports = {
  ReportJob,
  S3LockService,
  nestCommon: require('@nestjs/common'),
  package: require('nestjs-s3-lock'),
  testing: require('nestjs-s3-lock/testing'),
  /** The lock the current async flow holds, as the require() side sees it. */
  lockSeenByRequire: (name) => currentS3Lock(name),
};
