// Jest setupFiles entry for every project: silence the AWS SDK's Node.js version support warning.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export {};
