import { PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { runJson } from './support/cli-process';
import { freshBucket, realStore } from './support/cli-stores';
import { commandCases } from './support/command-cases';

describe('nestjs-s3-lock CLI on Ceph RGW', () => {
  commandCases(async () => realStore('rgw'));

  it('doctor names the action a restricting policy denies (a second user without s3:DeleteObject), exit 1', async () => {
    const store = realStore('rgw');
    const accessKeyId = process.env.S3_RGW_LIMITED_ACCESS_KEY_ID ?? 'limitedaccesskey';
    const secretAccessKey = process.env.S3_RGW_LIMITED_SECRET_ACCESS_KEY ?? 'limitedsecretkey';
    const bucket = await freshBucket(store, false);
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: ['arn:aws:iam:::user/limited'] },
          Action: ['s3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketVersioning', 's3:GetObject', 's3:PutObject'],
          Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
        },
      ],
    };
    await store.client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    const env = { ...store.env, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey };
    const { code, json } = await runJson<{ auto: string | null; reason: string; actions: Array<{ action: string; outcome: string }> }>(['doctor', '--bucket', bucket, ...store.flags], env);
    expect(json.actions.filter((a) => a.outcome !== 'allowed').map((a) => `${a.action} ${a.outcome}`)).toEqual(['s3:DeleteObject denied']);
    expect(json.auto).toBeNull();
    expect(json.reason).toMatch(/DeleteObject is denied \(s3:DeleteObject\)/);
    expect(code).toBe(1);
  });
});
